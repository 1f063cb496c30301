-- Prepended to every pixq script (see scripts.rs). Needs Redis 7.
--
-- ARGV[1..6] is the key layout built by keys.rs (Keys::layout); the script's own arguments
-- follow and are copied to A. Keys are only ever the layout's names, or a family prefix
-- from it with an id appended, so every key stays under the configured prefix.
local L = {
  job = ARGV[1],
  jobs = ARGV[2],
  state = ARGV[3],
  batch = ARGV[4],
  unfinished = ARGV[5],
  expiring = ARGV[6],
}
local A = {}
for i = 7, #ARGV do
  A[#A + 1] = ARGV[i]
end

local TERMINAL = { succeeded = true, failed = true, cancelled = true }

-- An entry of L.expiring: what pruning needs after the record itself is gone.
local function expiring_member(id, state, batch)
  return id .. '\n' .. state .. '\n' .. batch
end

-- The keys that live and die with a job record: its idempotency key and its task keys.
local function companions(key)
  local out = {}
  local f = redis.call('HMGET', key, 'idem', 'tasks')
  if f[1] then
    out[#out + 1] = f[1]
  end
  if f[2] then
    for k in string.gmatch(f[2], '[^\n]+') do
      out[#out + 1] = k
    end
  end
  return out
end

-- Writes one record, creating it when absent, and keeps every index in step with its state.
-- A finished record (and its companions) expires at expire_at (ms); an unfinished one never.
local function put(id, state, json, created, updated, batch, expire_at)
  local key = L.job .. id
  local old = redis.call('HGET', key, 'state')
  if old then
    redis.call('HSET', key, 'json', json, 'state', state)
    redis.call('HINCRBY', key, 'version', 1)
  else
    redis.call('HSET', key, 'json', json, 'state', state, 'version', 1, 'batch', batch,
      'created', created)
    redis.call('ZADD', L.jobs, created, id)
    if batch ~= '' then
      redis.call('ZADD', L.batch .. batch, created, id)
    end
  end
  if old ~= state then
    if old then
      redis.call('ZREM', L.state .. old, id)
    end
    redis.call('ZADD', L.state .. state, created, id)
  end
  if old and TERMINAL[old] then
    redis.call('ZREM', L.expiring, expiring_member(id, old, batch))
  end
  local lifetime = companions(key)
  lifetime[#lifetime + 1] = key
  if TERMINAL[state] then
    redis.call('ZREM', L.unfinished, id)
    redis.call('ZADD', L.expiring, expire_at, expiring_member(id, state, batch))
    for _, k in ipairs(lifetime) do
      redis.call('PEXPIREAT', k, expire_at)
    end
  else
    redis.call('ZADD', L.unfinished, updated, id)
    for _, k in ipairs(lifetime) do
      redis.call('PERSIST', k)
    end
  end
end

-- Removes up to `limit` finished jobs whose time has come (by the server's clock, the one
-- PEXPIREAT uses) from every index, and deletes whatever of them is left. Returns how many.
local function prune(limit)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local due = redis.call('ZRANGE', L.expiring, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  for _, member in ipairs(due) do
    local id, state, batch = string.match(member, '^([^\n]*)\n([^\n]*)\n(.*)$')
    if id then
      local key = L.job .. id
      for _, k in ipairs(companions(key)) do
        redis.call('DEL', k)
      end
      redis.call('DEL', key)
      redis.call('ZREM', L.jobs, id)
      redis.call('ZREM', L.state .. state, id)
      if batch ~= '' then
        redis.call('ZREM', L.batch .. batch, id)
      end
    end
    redis.call('ZREM', L.expiring, member)
  end
  return #due
end

-- Whether a sorts before b byte by byte, as sorted sets order equal scores. (Lua's own `<`
-- follows the server's locale.)
local function before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

-- Script body follows.
