-- Makes up to `count` chains of an accepted batch due at `at`, from `offset` in its order, as
-- ring() does (a look booked earlier keeps its time), a slice per ZADD.
-- A: batch, offset, count, at_ms. Returns how many it rang.
local batch, offset, count, at = A[1], tonumber(A[2]), tonumber(A[3]), tonumber(A[4])
local ids = redis.call('LRANGE', L.roots .. batch, offset, offset + count - 1)
local SLICE = 1000
for s = 1, #ids, SLICE do
  local scored = {}
  for i = s, math.min(s + SLICE - 1, #ids) do
    scored[#scored + 1] = at
    scored[#scored + 1] = ids[i]
  end
  redis.call('ZADD', L.due, 'LT', unpack(scored))
end
return #ids
