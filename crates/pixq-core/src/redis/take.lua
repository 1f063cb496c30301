-- Leases up to `limit` jobs to one holder: first those whose lease ran out (their worker
-- died mid-look), then those due by the caller's clock that nobody holds, the longest due
-- first. A due job that is leased leaves the due list for the `rung` hash: its look is booked
-- again when its lease is settled, so two workers never look at once.
-- A: due_now_ms, limit, holder, ttl_ms, with_records ('1' or '0').
-- Returns id… or, with records, (id, version, json)… with '' for a record that is gone.
-- A paused queue hands out nothing; looks under way finish.
if redis.call('EXISTS', L.queue_paused) == 1 then
  return {}
end
local limit, holder = tonumber(A[2]), A[3]
local now = server_now()
local expiry = now + tonumber(A[4])
local records = A[5] == '1'
local out = {}

local function take(id)
  redis.call('ZADD', L.leased, expiry, id)
  redis.call('HSET', L.holders, id, holder)
  out[#out + 1] = id
  if records then
    local rec = redis.call('HMGET', L.job .. id, 'version', 'json')
    out[#out + 1] = rec[1] or ''
    out[#out + 1] = rec[2] or ''
  end
end

local taken = 0
local lapsed = redis.call('ZRANGE', L.leased, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
for _, id in ipairs(lapsed) do
  take(id)
  taken = taken + 1
end

if taken < limit then
  local due = redis.call('ZRANGE', L.due, '-inf', A[1], 'BYSCORE', 'LIMIT', 0, limit - taken,
    'WITHSCORES')
  for i = 1, #due, 2 do
    local id, at = due[i], tonumber(due[i + 1])
    redis.call('ZREM', L.due, id)
    local held = redis.call('ZSCORE', L.leased, id)
    if held and tonumber(held) > now then
      local earlier = redis.call('HGET', L.rung, id)
      if not earlier or at < tonumber(earlier) then
        redis.call('HSET', L.rung, id, at)
      end
    else
      take(id)
    end
  end
end
return out
