-- Starts writing a batch and takes its idempotency key, so a second request with the same key
-- pays for nothing. A: batch, idem_key ('' for none), fingerprint, name, webhook, now_ms,
-- writing (the key of batches being written).
-- Returns {'writing'}, {'replayed', batch} (the key's accepted batch, same body),
-- {'taken', batch, '1' if it is still being written else '0'} or {'exists'}.
local batch, idem, fingerprint = A[1], A[2], A[3]
local name, webhook, now, writing = A[4], A[5], A[6], A[7]

if idem ~= '' then
  local prior = redis.call('HMGET', idem, 'batch', 'fingerprint')
  if prior[1] then
    local status = redis.call('HGET', L.batchrec .. prior[1], 'status')
    if status == 'accepted' and prior[2] == fingerprint then
      return { 'replayed', prior[1] }
    end
    if status then
      return { 'taken', prior[1], status == 'writing' and '1' or '0' }
    end
    -- The batch it named is gone (expired, or discarded): the key is free again.
  end
end

local key = L.batchrec .. batch
if redis.call('EXISTS', key) == 1 then
  return { 'exists' }
end
redis.call('HSET', key, 'status', 'writing', 'begun', now)
if name ~= '' then
  redis.call('HSET', key, 'name', name)
end
if webhook ~= '' then
  redis.call('HSET', key, 'webhook', webhook)
end
redis.call('ZADD', writing, now, batch)
if idem ~= '' then
  redis.call('DEL', idem)
  redis.call('HSET', idem, 'batch', batch, 'fingerprint', fingerprint)
  redis.call('HSET', key, 'idem', idem)
end
return { 'writing' }
