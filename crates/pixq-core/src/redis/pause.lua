-- Pauses submission on a token, keeping `since` of a pause already in place (a failed probe
-- extends the pause, it does not start a new one). KEYS: paused. ARGV: alias, reason, until_ms.
-- Returns {since, was_paused}.
local since = now
local was_paused = 0
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  was_paused = 1
  local ok, rec = pcall(cjson.decode, old)
  if ok and type(rec) == 'table' and tonumber(rec['since']) then
    since = tonumber(rec['since'])
  end
end
local rec = {}
rec['reason'] = ARGV[2]
rec['since'] = since
rec['until'] = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return {since, was_paused}
