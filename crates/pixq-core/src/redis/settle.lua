-- Ends a job's lease (for its holder only) and books its next look: at next_ms, or earlier if
-- the job was rung while leased; with no next_ms, only if it was rung.
-- KEYS: due, leased, holders, rung. ARGV: job, holder, next_ms ('' for none).
-- Returns 1, or 0 when the lease had been lost (the look is booked all the same).
local id = ARGV[1]
local mine = redis.call('HGET', KEYS[3], id) == ARGV[2]
local at = nil
if ARGV[3] ~= '' then
  at = tonumber(ARGV[3])
end
if mine then
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  local rung = redis.call('HGET', KEYS[4], id)
  if rung then
    redis.call('HDEL', KEYS[4], id)
    rung = tonumber(rung)
    if not at or rung < at then
      at = rung
    end
  end
end
if at then
  redis.call('ZADD', KEYS[1], 'LT', at, id)
end
if mine then
  return 1
end
return 0
