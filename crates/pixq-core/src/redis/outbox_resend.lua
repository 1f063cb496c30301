-- Makes a dead webhook event pending again, due now: attempts and the give-up clock start
-- over, the id and the body stay. It no longer expires, nor does its subject's index if it
-- still names it.
-- ARGV: the outbox layout (Keys::outbox_layout), id.
-- Returns 'resent', 'unknown', or the state of an event that is not dead.
local L = { event = ARGV[1], due = ARGV[2], dead = ARGV[3], webhook_of = ARGV[4] }
local id = ARGV[5]
local key = L.event .. id
local f = redis.call('HMGET', key, 'state', 'subject')
if not f[1] then
  return 'unknown'
end
if f[1] ~= 'failed' and f[1] ~= 'refused' then
  return f[1]
end
redis.call('HSET', key, 'state', 'pending', 'attempts', 0, 'since', now)
redis.call('HDEL', key, 'ended', 'last_error', 'holder')
redis.call('PERSIST', key)
redis.call('ZREM', L.dead, id)
redis.call('ZADD', L.due, now, id)
local index = L.webhook_of .. f[2]
if redis.call('GET', index) == id then
  redis.call('PERSIST', index)
end
return 'resent'
