-- Takes up to `limit` due webhook events for `holder`, oldest due first, each leased for
-- `lease_ms`: its score in the due set becomes the lease's end, so an event whose deliverer
-- died without reporting is due again once that passes. Ids in the due set that name no
-- pending event are dropped.
-- ARGV: the outbox layout (Keys::outbox_layout), holder, limit, lease_ms.
-- Returns 10 values per event: id, kind, subject, url, body, snapshot, attempts, last_error,
-- created, since ('' for a missing field).
local L = { event = ARGV[1], due = ARGV[2], dead = ARGV[3], webhook_of = ARGV[4] }
local holder, limit, lease = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local out = {}
local ids = redis.call('ZRANGE', L.due, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local key = L.event .. id
  local f = redis.call('HMGET', key, 'state', 'kind', 'subject', 'url', 'body', 'snapshot',
    'attempts', 'last_error', 'created', 'since')
  if f[1] ~= 'pending' then
    redis.call('ZREM', L.due, id)
  else
    redis.call('ZADD', L.due, now + lease, id)
    redis.call('HSET', key, 'holder', holder)
    out[#out + 1] = id
    for i = 2, 10 do
      out[#out + 1] = f[i] or ''
    end
  end
end
return out
