-- Lets one poll of a task through per window. KEYS: the task's gate. ARGV: window_ms.
-- Returns -1 when the caller may poll now (and the gate is set), else the ms left.
if redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then
  return -1
end
return redis.call('PTTL', KEYS[1])
