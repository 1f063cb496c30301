-- Makes up to `count` chains of an accepted batch due at `at`, from `offset` in its order.
-- A: batch, offset, count, at_ms. Returns how many it rang.
local batch, offset, count, at = A[1], tonumber(A[2]), tonumber(A[3]), tonumber(A[4])
local ids = redis.call('LRANGE', L.roots .. batch, offset, offset + count - 1)
for _, id in ipairs(ids) do
  ring(id, at)
end
return #ids
