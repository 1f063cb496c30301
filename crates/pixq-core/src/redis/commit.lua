-- Applies one transition's writes, all or none, if every record is still the one it was
-- planned from (same state and version), and then, in the same step, what follows from it.
-- A: claim_key ('' for none), n, then n × (op, id, from_state, from_version, state, json,
--    created_ms, updated_ms, batch, expire_at_ms, move_from, move_to). op is 'update' (must
--    match), or 'ensure' (create unless it exists: the chain's next step). move_from and
--    move_to are the batch counts an update moves its chain between ('' for none). The claim
--    is for the first record.
--    Then the effects, for the first record: settle_holder ('' for none), settle_next_ms (''
--    for none), now_ms (for rings), ring_n, ring_n × id, slot_alias ('' for none), slot_max,
--    slot_release ('1' or '0'), slot_leave ('1' or '0').
--    Then the outbox: batch_event_id (the id of the `batch.finished` event a write that
--    finishes a batch with a webhook writes; '' for none), ev_n, ev_n × (id, kind, subject,
--    url, body, created_ms): the events of the jobs the writes end.
-- Returns {'ok', version of the first record, woken id…}, {'moved', id}, {'gone', id} or
-- {'taken', owner_id}.
local claim_key, n = A[1], tonumber(A[2])
local writes = {}
for i = 0, n - 1 do
  local b = 2 + i * 12
  writes[#writes + 1] = {
    op = A[b + 1], id = A[b + 2], from_state = A[b + 3], from_version = A[b + 4],
    state = A[b + 5], json = A[b + 6], created = A[b + 7], updated = A[b + 8],
    batch = A[b + 9], expire_at = A[b + 10], move_from = A[b + 11], move_to = A[b + 12],
  }
end
local e = 2 + n * 12
local o = e + 4 + tonumber(A[e + 4]) + 4
local batch_event = A[o + 1]

-- Check everything before writing anything.
for _, w in ipairs(writes) do
  if w.op == 'update' then
    local cur = redis.call('HMGET', L.job .. w.id, 'state', 'version')
    if not cur[1] then
      return { 'gone', w.id }
    end
    if cur[1] ~= w.from_state or cur[2] ~= w.from_version then
      return { 'moved', w.id }
    end
  end
end
local first = writes[1]
if claim_key ~= '' then
  local owner = redis.call('GET', claim_key)
  if owner and owner ~= first.id then
    return { 'taken', owner }
  end
  if owner ~= first.id then
    redis.call('SET', claim_key, first.id)
    local key = L.job .. first.id
    local tasks = redis.call('HGET', key, 'tasks') or ''
    if tasks ~= '' then
      tasks = tasks .. '\n'
    end
    redis.call('HSET', key, 'tasks', tasks .. claim_key)
  end
end

local version = 1
for i, w in ipairs(writes) do
  if w.op == 'update' then
    local v = tonumber(w.from_version) + 1
    put(w.id, w.from_state, v, w.state, w.json, w.created, w.updated, w.batch,
      tonumber(w.expire_at))
    if w.move_from ~= '' then
      move(w.batch, w.move_from, w.move_to, w.updated, tonumber(w.expire_at), batch_event)
    end
    if i == 1 then
      version = v
    end
  elseif redis.call('EXISTS', L.job .. w.id) == 0 then
    put(w.id, nil, 1, w.state, w.json, w.created, w.updated, w.batch, tonumber(w.expire_at))
  end
end

-- The webhook events of the jobs that ended, in the same write.
for i = 0, tonumber(A[o + 2]) - 1 do
  local v = o + 2 + i * 6
  outbox_put(A[v + 1], A[v + 2], A[v + 3], A[v + 4], A[v + 5], '', tonumber(A[v + 6]))
end

-- What follows from the transition.
local holder, next_at, now = A[e + 1], A[e + 2], tonumber(A[e + 3])
local ring_n = tonumber(A[e + 4])
for i = 1, ring_n do
  ring(A[e + 4 + i], now)
end
local s = e + 4 + ring_n
local alias, max, release, leave = A[s + 1], tonumber(A[s + 2]), A[s + 3], A[s + 4]
local out = { 'ok', tostring(version) }
if alias ~= '' then
  local wake_now = false
  local srv = server_now()
  if release == '1' then
    local score = redis.call('ZSCORE', L.slots .. alias, first.id)
    if score then
      redis.call('ZREM', L.slots .. alias, first.id)
      wake_now = tonumber(score) > srv
    end
  end
  if leave == '1' and unpark(alias, first.id) then
    wake_now = true
  end
  if wake_now then
    for _, j in ipairs(wake(alias, max, srv, now)) do
      out[#out + 1] = j
    end
  end
end
if holder ~= '' then
  local at = nil
  if next_at ~= '' then
    at = tonumber(next_at)
  end
  settle(first.id, holder, at)
end
return out
