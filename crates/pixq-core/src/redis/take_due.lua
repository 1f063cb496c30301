-- Leases up to `limit` jobs to one holder: first those whose lease ran out (their worker
-- died mid-look), then those due by the caller's clock that nobody holds, the longest due
-- first. A due job that is leased leaves the due list for the `rung` hash: its look is booked
-- again when its lease is settled, so two workers never look at once.
-- KEYS: due, leased, holders, rung. ARGV: due_now_ms, limit, holder, ttl_ms.
-- Returns the ids taken.
local limit, holder = tonumber(ARGV[2]), ARGV[3]
local expiry = now + tonumber(ARGV[4])
local out = {}

local function take(id)
  redis.call('ZADD', KEYS[2], expiry, id)
  redis.call('HSET', KEYS[3], id, holder)
  out[#out + 1] = id
end

local lapsed = redis.call('ZRANGE', KEYS[2], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
for _, id in ipairs(lapsed) do
  take(id)
end

if #out < limit then
  local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0,
    limit - #out, 'WITHSCORES')
  for i = 1, #due, 2 do
    local id, at = due[i], tonumber(due[i + 1])
    redis.call('ZREM', KEYS[1], id)
    local held = redis.call('ZSCORE', KEYS[2], id)
    if held and tonumber(held) > now then
      local earlier = redis.call('HGET', KEYS[4], id)
      if not earlier or at < tonumber(earlier) then
        redis.call('HSET', KEYS[4], id, at)
      end
    else
      take(id)
    end
  end
end
return out
