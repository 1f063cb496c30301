-- Reserves a character creation's idempotency key and name before the upstream is paid (see
-- characters.rs). Standalone: ARGV[1..5] is Keys::character_layout (characters,
-- characters-by-time, character-names, the idem prefix, the pending prefix), then id, key
-- ('' for none), fingerprint, name ('' for none), stale_ms.
-- Returns {'reserved', started_ms}, {'replay', json}, {'conflict'},
-- {'in_progress', started_ms} or {'name_taken'}.
local characters, names, idem, pending = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local id, key, fingerprint, name = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local stale = tonumber(ARGV[10])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- The key first: a replay is answered although its name is taken, by its own character.
if key ~= '' then
  local bound = redis.call('HMGET', idem .. key, 'id', 'fingerprint')
  if bound[1] then
    if bound[2] ~= fingerprint then
      return { 'conflict' }
    end
    local json = redis.call('HGET', characters, bound[1])
    if json then
      return { 'replay', json }
    end
    local started = redis.call('HGET', pending .. bound[1], 'started')
    if started then
      -- Under way, or its process died not knowing whether it paid: never again.
      return { 'in_progress', started }
    end
    -- Bound to nothing (abandon unbinds first): the key is free.
  end
end

if name ~= '' then
  local holder = redis.call('HGET', names, name)
  if holder then
    if redis.call('HEXISTS', characters, holder) == 1 then
      return { 'name_taken' }
    end
    local started = tonumber(redis.call('HGET', pending .. holder, 'started'))
    if started and now - started < stale then
      return { 'name_taken' }
    end
    if started then
      -- A reservation that never finished keeps its key, and loses its name to this one.
      redis.call('HSET', pending .. holder, 'name', '')
    end
  end
end

redis.call('HSET', pending .. id, 'key', key, 'fingerprint', fingerprint, 'name', name,
  'started', now)
if key ~= '' then
  redis.call('DEL', idem .. key)
  redis.call('HSET', idem .. key, 'id', id, 'fingerprint', fingerprint)
end
if name ~= '' then
  redis.call('HSET', names, name, id)
end
return { 'reserved', tostring(now) }
