-- Who holds a live lease on a job, and for how many more milliseconds.
-- KEYS: leased, holders. ARGV: job. Returns {holder, ms_left}, or {} when nobody does.
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then
  return {}
end
local holder = redis.call('HGET', KEYS[2], ARGV[1])
if not holder then
  return {}
end
return { holder, tostring(tonumber(expiry) - now) }
