-- Takes a generation slot on a token for a job: drops expired leases; renews the job's slot
-- when it holds one already (a retried step must not take two); else takes one while fewer
-- than `max` are held. Keeps the set's own expiry at its latest lease, so the set of a token
-- no longer used disappears, and registers the alias.
-- KEYS: slots of the alias, slot_aliases. ARGV: job, max, ttl_ms, alias.
-- Returns {1, expiry, held, renewed} or {0, earliest expiry or -1, held}.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expiry = now + tonumber(ARGV[3])
local renewed = 0
local held = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  renewed = 1
elseif held >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local earliest = -1
  if first[2] then
    earliest = tonumber(first[2])
  end
  return { 0, earliest, held }
end
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('SADD', KEYS[2], ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[1], last[2])
end
return { 1, expiry, redis.call('ZCARD', KEYS[1]), renewed }
