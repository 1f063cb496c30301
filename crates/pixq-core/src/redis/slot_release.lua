-- Gives a job's slot back. KEYS: slots of the alias. ARGV: job.
-- Returns 1 when the lease was still live, 0 when it had expired or was never held.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
if tonumber(score) <= now then
  return 0
end
return 1
