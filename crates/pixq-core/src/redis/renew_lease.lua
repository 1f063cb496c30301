-- Extends a job's lease for its holder only. A lease that ran out but was not taken by
-- anyone is still its holder's: taking it would have named another holder.
-- KEYS: leased, holders. ARGV: job, holder, ttl_ms. Returns 1, or 0 when it is not held.
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
