-- Writes a chunk of a batch's chains (their first steps), all or none, and appends them to its
-- chains in order. They are not due: nothing runs before the batch is accepted.
-- A: batch, created_ms, n, then n × (id, json).
-- Each record is what put() writes for a new queued job; the indexes take the chunk in one
-- call each (the records are new, queued and unfinished, all created at created_ms).
-- Returns {'added'}, {'not_writing'} or {'exists', id}.
local batch, created, n = A[1], A[2], tonumber(A[3])
if redis.call('HGET', L.batchrec .. batch, 'status') ~= 'writing' then
  return { 'not_writing' }
end

-- One EXISTS for the chunk; only when something exists (it never should: ids are fresh) is
-- each looked at, to name it.
local keys, seen = {}, {}
for i = 0, n - 1 do
  local id = A[4 + i * 2]
  if seen[id] then
    return { 'exists', id }
  end
  seen[id] = true
  keys[#keys + 1] = L.job .. id
end
local SLICE = 1000
for s = 1, #keys, SLICE do
  if redis.call('EXISTS', unpack(keys, s, math.min(s + SLICE - 1, #keys))) > 0 then
    for i = s, math.min(s + SLICE - 1, #keys) do
      if redis.call('EXISTS', keys[i]) == 1 then
        return { 'exists', A[4 + (i - 1) * 2] }
      end
    end
  end
end

local ids, scored = {}, {}
for i = 0, n - 1 do
  local id, json = A[4 + i * 2], A[5 + i * 2]
  redis.call('HSET', L.job .. id, 'json', json, 'state', 'queued', 'version', 1, 'batch', batch,
    'created', created)
  ids[#ids + 1] = id
  scored[#scored + 1] = created
  scored[#scored + 1] = id
end

-- Lua's unpack takes a few thousand values at most: the indexes are written in slices.
local function zadd_all(key)
  for s = 1, #scored, SLICE * 2 do
    redis.call('ZADD', key, unpack(scored, s, math.min(s + SLICE * 2 - 1, #scored)))
  end
end
if n > 0 then
  zadd_all(L.jobs)
  zadd_all(L.batch .. batch)
  zadd_all(L.state .. 'queued')
  zadd_all(L.unfinished)
  for s = 1, #ids, SLICE do
    redis.call('RPUSH', L.roots .. batch, unpack(ids, s, math.min(s + SLICE - 1, #ids)))
  end
end
return { 'added' }
