-- Puts a job at the end of a token's wait line unless it is in it already (it then keeps its
-- place). KEYS: the line, the arrival counter. ARGV: job. Returns 1 when it was added.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], 'NX', redis.call('INCR', KEYS[2]), ARGV[1])
return 1
