-- Makes a batch visible in one step: every chain counted as queued. Its first steps are made
-- due right after, by batch_ring.lua. A: batch, now_ms, writing, listed (the zset of accepted
-- batches the listing reads, scored by now_ms).
-- Returns {'accepted'} or {'not_writing'}.
local batch, now, writing, listed = A[1], A[2], A[3], A[4]
local key = L.batchrec .. batch
if redis.call('HGET', key, 'status') ~= 'writing' then
  return { 'not_writing' }
end
local total = redis.call('LLEN', L.roots .. batch)
redis.call('HSET', key, 'status', 'accepted', 'created', now, 'total', total, 'queued', total,
  'running', 0, 'succeeded', 0, 'failed', 0, 'cancelled', 0)
if total == 0 then
  redis.call('HSET', key, 'finished', now)
end
redis.call('ZREM', writing, batch)
redis.call('ZADD', listed, now, batch)
return { 'accepted' }
