-- Writes a chunk of a batch's chains (their first steps), all or none, and appends them to its
-- chains in order. They are not due: nothing runs before the batch is accepted.
-- A: batch, n, then n × (id, json, created_ms).
-- Returns {'added'}, {'not_writing'} or {'exists', id}.
local batch, n = A[1], tonumber(A[2])
if redis.call('HGET', L.batchrec .. batch, 'status') ~= 'writing' then
  return { 'not_writing' }
end

local seen = {}
for i = 0, n - 1 do
  local id = A[3 + i * 3]
  if seen[id] or redis.call('EXISTS', L.job .. id) == 1 then
    return { 'exists', id }
  end
  seen[id] = true
end

local ids = {}
for i = 0, n - 1 do
  local b = 2 + i * 3
  put(A[b + 1], nil, 1, 'queued', A[b + 2], A[b + 3], A[b + 3], batch, 0)
  ids[#ids + 1] = A[b + 1]
end
if #ids > 0 then
  redis.call('RPUSH', L.roots .. batch, unpack(ids))
end
return { 'added' }
