-- Applies one transition's writes, all or none, if every record is still the one it was
-- planned from (same state and version).
-- A: claim_key ('' for none), n, then n × (op, id, from_state, from_version, state, json,
--    created_ms, updated_ms, batch, expire_at_ms). op is 'update' (must match), or 'ensure'
--    (create unless it exists: the chain's next step). The claim is for the first record.
-- Returns {'ok'}, {'moved', id}, {'gone', id} or {'taken', owner_id}.
local claim_key, n = A[1], tonumber(A[2])
local writes = {}
for i = 0, n - 1 do
  local b = 2 + i * 10
  writes[#writes + 1] = {
    op = A[b + 1], id = A[b + 2], from_state = A[b + 3], from_version = A[b + 4],
    state = A[b + 5], json = A[b + 6], created = A[b + 7], updated = A[b + 8],
    batch = A[b + 9], expire_at = A[b + 10],
  }
end

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
  redis.call('SET', claim_key, first.id)
  local key = L.job .. first.id
  local tasks = redis.call('HGET', key, 'tasks') or ''
  if not string.find('\n' .. tasks .. '\n', '\n' .. claim_key .. '\n', 1, true) then
    if tasks ~= '' then
      tasks = tasks .. '\n'
    end
    redis.call('HSET', key, 'tasks', tasks .. claim_key)
  end
end

for _, w in ipairs(writes) do
  if w.op ~= 'ensure' or redis.call('EXISTS', L.job .. w.id) == 0 then
    put(w.id, w.state, w.json, w.created, w.updated, w.batch, tonumber(w.expire_at))
  end
end
-- Each commit sweeps a few expired jobs from the indexes, so they stay bounded.
prune(16)
return { 'ok' }
