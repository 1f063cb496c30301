-- Prepended to pixq's job and schedule scripts (see scripts.rs). Needs Redis 7.
--
-- ARGV[1..21] is the key layout built by keys.rs (Keys::layout); the script's own arguments
-- follow and are copied to A. Keys are only ever the layout's names, or a family prefix
-- from it with an id appended, so every key stays under the configured prefix.
local L = {
  job = ARGV[1],
  jobs = ARGV[2],
  state = ARGV[3],
  batch = ARGV[4],
  unfinished = ARGV[5],
  expiring = ARGV[6],
  due = ARGV[7],
  leased = ARGV[8],
  holders = ARGV[9],
  rung = ARGV[10],
  slots = ARGV[11],
  waiting = ARGV[12],
  waiting_lanes = ARGV[13],
  paused = ARGV[14],
  slot_aliases = ARGV[15],
  batchrec = ARGV[16],
  roots = ARGV[17],
  event = ARGV[18],
  events_due = ARGV[19],
  webhook_of = ARGV[20],
  queue_paused = ARGV[21],
}
local LAYOUT = 21
local A = {}
for i = LAYOUT + 1, #ARGV do
  A[#A + 1] = ARGV[i]
end

-- The Redis server's time in milliseconds: one clock for every lease, whatever the workers'.
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local TERMINAL = { succeeded = true, failed = true, cancelled = true }

-- Writes a webhook event to the outbox, due now, in the same write as the transition that
-- caused it, and makes it its subject's latest. `body` is the frozen JSON of a job's event;
-- a batch's event carries `snapshot` (its record's fields) instead, rendered and frozen by
-- its first take. `created` is in ms.
local function outbox_put(id, kind, subject, url, body, snapshot, created)
  local key = L.event .. id
  redis.call('HSET', key, 'kind', kind, 'subject', subject, 'url', url, 'state', 'pending',
    'attempts', 0, 'created', created, 'since', created)
  if body ~= '' then
    redis.call('HSET', key, 'body', body)
  else
    redis.call('HSET', key, 'snapshot', snapshot)
  end
  redis.call('ZADD', L.events_due, server_now(), id)
  redis.call('SET', L.webhook_of .. subject, id)
end

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

-- Writes one record and keeps every index in step with its state. `old` is the state it had
-- (nil when it is created) and `version` the version it gets. A finished record (and its
-- companions) expires at expire_at (ms); an unfinished one never: the expiry is set or lifted
-- only when the record crosses between the two.
local function put(id, old, version, state, json, created, updated, batch, expire_at)
  local key = L.job .. id
  if old then
    redis.call('HSET', key, 'json', json, 'state', state, 'version', version)
  else
    redis.call('HSET', key, 'json', json, 'state', state, 'version', version, 'batch', batch,
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
  local was_done, done = old and TERMINAL[old], TERMINAL[state]
  if was_done then
    redis.call('ZREM', L.expiring, expiring_member(id, old, batch))
  end
  if done then
    redis.call('ZREM', L.unfinished, id)
    redis.call('ZADD', L.expiring, expire_at, expiring_member(id, state, batch))
    local lifetime = companions(key)
    lifetime[#lifetime + 1] = key
    for _, k in ipairs(lifetime) do
      redis.call('PEXPIREAT', k, expire_at)
    end
  else
    redis.call('ZADD', L.unfinished, updated, id)
    if was_done then
      local lifetime = companions(key)
      lifetime[#lifetime + 1] = key
      for _, k in ipairs(lifetime) do
        redis.call('PERSIST', k)
      end
    end
  end
end

-- Moves one chain of `batch` from the count `from` to the count `to` (chain states), in the
-- same write as its step. The batch finishes (at `at`, ms) when no chain is queued or
-- running, and its record, chains and key then expire with the write that finished it
-- (`expire_at`); a retry that moves a chain back opens it again. A batch with a webhook that
-- finishes gets its `batch.finished` event under `event_id` (nil or '': none) in this write.
local function move(batch, from, to, at, expire_at, event_id)
  local key = L.batchrec .. batch
  if redis.call('HGET', key, 'status') ~= 'accepted' then
    return
  end
  redis.call('HINCRBY', key, from, -1)
  redis.call('HINCRBY', key, to, 1)
  local c = redis.call('HMGET', key, 'queued', 'running', 'finished', 'idem')
  local open = (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0)
  local lifetime = { key, L.roots .. batch }
  if c[4] then
    lifetime[#lifetime + 1] = c[4]
  end
  if open == 0 and not c[3] then
    redis.call('HSET', key, 'finished', at)
    if event_id and event_id ~= '' then
      local fields = redis.call('HGETALL', key)
      local snapshot = {}
      for i = 1, #fields, 2 do
        snapshot[fields[i]] = fields[i + 1]
      end
      if snapshot['webhook'] and snapshot['webhook'] ~= '' then
        outbox_put(event_id, 'batch.finished', batch, snapshot['webhook'], '',
          cjson.encode(snapshot), at)
      end
    end
    if expire_at > 0 then
      for _, k in ipairs(lifetime) do
        redis.call('PEXPIREAT', k, expire_at)
      end
    end
  elseif open > 0 and c[3] then
    redis.call('HDEL', key, 'finished')
    for _, k in ipairs(lifetime) do
      redis.call('PERSIST', k)
    end
  end
end

-- Books a look at `id` no later than `at` (ms). A leased job's look waits for its settle.
local function ring(id, at)
  redis.call('ZADD', L.due, 'LT', at, id)
end

-- Ends the lease of `id` for `holder` (only) and books its next look: at `at` (ms, or nil),
-- or earlier if it was rung while leased. Returns whether the lease was the holder's.
local function settle(id, holder, at)
  local mine = redis.call('HGET', L.holders, id) == holder
  if mine then
    redis.call('ZREM', L.leased, id)
    redis.call('HDEL', L.holders, id)
    local rung = redis.call('HGET', L.rung, id)
    if rung then
      redis.call('HDEL', L.rung, id)
      rung = tonumber(rung)
      if not at or rung < at then
        at = rung
      end
    end
  end
  if at then
    ring(id, at)
  end
  return mine
end

-- Puts `id` in `alias`'s wait line unless it is in it already (it then keeps its place).
-- Batches take turns: the k-th job of a batch to wait gets turn k, or the line's first turn
-- if that is later, so a batch that comes late waits beside a large one, not behind it.
-- Jobs without a batch share one lane. Equal turns go by job id. Returns whether it was added.
local function park(alias, id)
  local line = L.waiting .. alias
  if redis.call('ZSCORE', line, id) then
    return false
  end
  local lane = redis.call('HGET', L.job .. id, 'batch') or ''
  local lanes = L.waiting_lanes .. alias
  local turn = tonumber(redis.call('HGET', lanes, lane) or '0') + 1
  local head = redis.call('ZRANGE', line, 0, 0, 'WITHSCORES')
  if head[2] and tonumber(head[2]) > turn then
    turn = tonumber(head[2])
  end
  redis.call('HSET', lanes, lane, turn)
  redis.call('ZADD', line, turn, id)
  return true
end

-- Takes `id` out of `alias`'s wait line; an emptied line forgets its lanes' turns. Returns
-- whether it was there.
local function unpark(alias, id)
  local line = L.waiting .. alias
  if redis.call('ZREM', line, id) == 0 then
    return false
  end
  if redis.call('ZCARD', line) == 0 then
    redis.call('DEL', L.waiting_lanes .. alias)
  end
  return true
end

-- The pause of `alias` as stored, decoded; nil when not paused.
local function pause_of(alias)
  local raw = redis.call('HGET', L.paused, alias)
  if not raw then
    return nil, nil
  end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or not tonumber(rec['until']) then
    return raw, { ['until'] = math.huge }
  end
  return raw, rec
end

-- Rings, at `at` (ms), the first jobs of `alias`'s line, as many as slots are free of `max`
-- by the server's clock `now`: only the one that will probe while the token is paused and
-- its probe is due, none before that. Returns the jobs rung.
local function wake(alias, max, now, at)
  if redis.call('ZCARD', L.waiting .. alias) == 0 then
    return {}
  end
  local held = redis.call('ZCOUNT', L.slots .. alias, '(' .. now, '+inf')
  local free = max - held
  if free <= 0 then
    return {}
  end
  local raw, rec = pause_of(alias)
  if raw then
    if tonumber(rec['until']) > now then
      return {}
    end
    free = 1
  end
  local first = redis.call('ZRANGE', L.waiting .. alias, 0, free - 1)
  for _, j in ipairs(first) do
    ring(j, at)
  end
  return first
end

-- Removes up to `limit` finished jobs whose time has come (by the server's clock, the one
-- PEXPIREAT uses) from every index, and deletes whatever of them is left. Returns how many.
local function prune(limit)
  local now = server_now()
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

-- One page of a sorted set of ids scored by time, newest first, from the cursor (`cscore`,
-- `cid`; `cscore` '' for the start): members at or after the cursor are skipped, since (score,
-- id) pairs order a listing. `take(id)` is called for each member after it until `limit`
-- were kept or `budget` examined, so a page may come back short with a cursor; it answers
-- whether it kept the member, and whether it removed it from the set. Returns the cursor of
-- the next page (score, id), or nothing when the listing is complete.
local function page_newest_first(index, cscore, cid, limit, budget, take)
  local max = '+inf'
  if cscore ~= '' then
    max = cscore
  end
  local cnum = tonumber(cscore)
  local kept, examined, offset, chunk = 0, 0, 0, 100
  local last_score, last_id
  while true do
    local rows = redis.call('ZRANGE', index, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', offset,
      chunk, 'WITHSCORES')
    if #rows == 0 then
      return
    end
    offset = offset + #rows / 2
    for i = 1, #rows, 2 do
      local id, score = rows[i], rows[i + 1]
      if not (cnum and tonumber(score) == cnum and not before(id, cid)) then
        if kept >= limit or examined >= budget then
          return last_score, last_id
        end
        examined = examined + 1
        local took, removed = take(id)
        if took then
          kept = kept + 1
        end
        if removed then
          -- The members after it moved one place up.
          offset = offset - 1
        end
        last_score, last_id = score, id
      end
    end
  end
end

-- Script body follows.
