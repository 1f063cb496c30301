-- Whether a job may submit now, in one step: the token's pause gate (claiming the one probe
-- once a pause's `until` has passed), then a slot of the shared cap in the order of the wait
-- line. A: alias, job, max, ttl_ms, probe_window_ms.
-- Returns {'taken', held, probe pause JSON or ''}, {'wait', held, earliest expiry or -1,
-- at_head '1'/'0'} or {'paused', pause JSON, at_head '1'/'0'}.
local alias, job, max = A[1], A[2], tonumber(A[3])
local ttl, window = tonumber(A[4]), tonumber(A[5])
local now = server_now()
local slots, line = L.slots .. alias, L.waiting .. alias

local function at_head()
  local first = redis.call('ZRANGE', line, 0, max - 1)
  for _, j in ipairs(first) do
    if j == job then
      return '1'
    end
  end
  return '0'
end

-- The pause gate.
local probe = ''
local raw, rec = pause_of(alias)
if raw then
  if tonumber(rec['until']) > now then
    park(alias, job)
    return { 'paused', raw, at_head() }
  end
  rec['until'] = now + window
  redis.call('HSET', L.paused, alias, cjson.encode(rec))
  probe = raw
end

redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
local function taken(held)
  redis.call('ZADD', slots, now + ttl, job)
  redis.call('SADD', L.slot_aliases, alias)
  local last = redis.call('ZRANGE', slots, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIREAT', slots, last[2])
  end
  unpark(alias, job)
  return { 'taken', tostring(held), probe }
end

local held = redis.call('ZCARD', slots)
-- A job that holds a slot already (a step retried after an error) keeps it.
if redis.call('ZSCORE', slots, job) then
  return taken(held)
end
local free = max - held
-- A free slot goes to the first `free` jobs of the line; the probe goes out of turn. A job
-- that is not waiting yet takes its place in the line first: batches take turns, so it may
-- come before jobs of a batch that has had many.
local in_turn = probe ~= ''
if not in_turn and free > 0 then
  if redis.call('ZCARD', line) > 0 then
    park(alias, job)
  end
  local ahead = redis.call('ZRANGE', line, 0, free - 1)
  in_turn = #ahead < free
  for _, j in ipairs(ahead) do
    if j == job then
      in_turn = true
    end
  end
end
if in_turn and free > 0 then
  return taken(held + 1)
end
if probe ~= '' then
  -- The probe found no slot: hand it back, so the next job with one probes.
  rec['until'] = now
  redis.call('HSET', L.paused, alias, cjson.encode(rec))
end
park(alias, job)
local first = redis.call('ZRANGE', slots, 0, 0, 'WITHSCORES')
local earliest = '-1'
if first[2] then
  earliest = first[2]
end
return { 'wait', tostring(held), earliest, at_head() }
