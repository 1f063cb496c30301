-- Deletes up to `limit` chains of a batch that is still being written (its writer gave up or
-- died), and the batch itself once none is left. A: batch, limit, writing.
-- Returns how many chains are left, or -1 when the batch is not being written.
local batch, limit, writing = A[1], tonumber(A[2]), A[3]
local key = L.batchrec .. batch
if redis.call('HGET', key, 'status') ~= 'writing' then
  return -1
end
local roots = L.roots .. batch
local ids = redis.call('LRANGE', roots, 0, limit - 1)
for _, id in ipairs(ids) do
  redis.call('DEL', L.job .. id)
  redis.call('ZREM', L.jobs, id)
  redis.call('ZREM', L.state .. 'queued', id)
  redis.call('ZREM', L.batch .. batch, id)
  redis.call('ZREM', L.unfinished, id)
end
redis.call('LTRIM', roots, #ids, -1)
local left = redis.call('LLEN', roots)
if left == 0 then
  local idem = redis.call('HGET', key, 'idem')
  if idem and redis.call('HGET', idem, 'batch') == batch then
    redis.call('DEL', idem)
  end
  redis.call('DEL', key, roots)
  redis.call('ZREM', writing, batch)
end
return left
