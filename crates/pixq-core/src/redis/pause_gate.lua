-- Whether a job may submit on a token: {0, ''} when not paused; {2, record} while paused;
-- once `until` has passed, {1, record} for exactly one caller, which claims the probe by
-- moving `until` to now + the window, so the others keep waiting while it probes.
-- KEYS: paused. ARGV: alias, probe_window_ms.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return {0, ''}
end
local ok, rec = pcall(cjson.decode, raw)
if not ok or type(rec) ~= 'table' or not tonumber(rec['until']) then
  return {2, raw}
end
if tonumber(rec['until']) > now then
  return {2, raw}
end
rec['until'] = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return {1, raw}
