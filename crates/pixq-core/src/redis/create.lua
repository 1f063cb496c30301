-- Creates first steps, all or none, optionally under an idempotency key.
-- A: idem_key ('' for none), fingerprint, n, then n × (id, state, json, created_ms, batch).
-- Returns {'created'}, {'replayed', json}, {'conflict', job_id} or {'exists', job_id}.
local idem_key, fingerprint, n = A[1], A[2], tonumber(A[3])

if idem_key ~= '' then
  local prior = redis.call('HMGET', idem_key, 'job', 'fingerprint')
  if prior[1] then
    local json = redis.call('HGET', L.job .. prior[1], 'json')
    if json then
      if prior[2] == fingerprint then
        return { 'replayed', json }
      end
      return { 'conflict', prior[1] }
    end
  end
end

-- An id repeated within the call counts as existing too: the second would overwrite the first.
local seen = {}
for i = 0, n - 1 do
  local id = A[4 + i * 5]
  if seen[id] or redis.call('EXISTS', L.job .. id) == 1 then
    return { 'exists', id }
  end
  seen[id] = true
end

for i = 0, n - 1 do
  local b = 3 + i * 5
  put(A[b + 1], nil, 1, A[b + 2], A[b + 3], A[b + 4], A[b + 4], A[b + 5], 0)
end

if idem_key ~= '' then
  local id = A[4]
  redis.call('DEL', idem_key)
  redis.call('HSET', idem_key, 'job', id, 'fingerprint', fingerprint)
  redis.call('HSET', L.job .. id, 'idem', idem_key)
end
return { 'created' }
