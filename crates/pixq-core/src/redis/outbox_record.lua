-- Records what became of an attempt at a webhook event. Only a pending event's lease holder
-- may record, except a delivery (it happened, whoever reports it).
-- ARGV: the outbox layout (Keys::outbox_layout), id, holder, op, error, delay_ms,
-- retention_ms. op: 'delivered'; 'failed' (due again after delay_ms); 'postponed' (due again
-- after delay_ms, no attempt counted); 'gave_up' or 'refused' (dead). An event that ends
-- (delivered or dead) expires retention_ms later, and so does its subject's index if it still
-- names it.
-- Returns 1 when recorded, 0 when not.
local L = { event = ARGV[1], due = ARGV[2], dead = ARGV[3], webhook_of = ARGV[4] }
local id, holder, op, err = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local delay, retention = tonumber(ARGV[9]), tonumber(ARGV[10])
local key = L.event .. id
local f = redis.call('HMGET', key, 'state', 'holder', 'subject')
if f[1] ~= 'pending' then
  return 0
end
if op ~= 'delivered' and f[2] ~= holder then
  return 0
end
redis.call('HDEL', key, 'holder')
if op == 'postponed' then
  redis.call('ZADD', L.due, now + delay, id)
  return 1
end
redis.call('HINCRBY', key, 'attempts', 1)
if op == 'failed' then
  redis.call('HSET', key, 'last_error', err)
  redis.call('ZADD', L.due, now + delay, id)
  return 1
end
redis.call('ZREM', L.due, id)
if op == 'delivered' then
  redis.call('HSET', key, 'state', 'delivered', 'ended', now)
else
  local state = 'failed'
  if op == 'refused' then
    state = 'refused'
  end
  redis.call('HSET', key, 'state', state, 'ended', now, 'last_error', err)
  redis.call('ZADD', L.dead, now, id)
end
local expire_at = now + retention
redis.call('PEXPIREAT', key, expire_at)
local index = L.webhook_of .. f[3]
if redis.call('GET', index) == id then
  redis.call('PEXPIREAT', index, expire_at)
end
return 1
