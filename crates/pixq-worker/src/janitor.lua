-- Deletes up to ARGV[2] finished apalis tasks from each of the done and dead sets: the id,
-- its payload in the data hash and its meta hash. Unlike apalis's vacuum(), it never touches
-- a task that may still run or be retried, and it does trim the id sets.
-- KEYS[1]: {queue}:done   KEYS[2]: {queue}:dead   KEYS[3]: {queue}:data
-- ARGV[1]: the meta key prefix ({queue}:meta)     ARGV[2]: the most ids per set
local removed = 0
for i = 1, 2 do
  local ids = redis.call('SPOP', KEYS[i], tonumber(ARGV[2]))
  for _, id in ipairs(ids) do
    redis.call('HDEL', KEYS[3], id)
    redis.call('DEL', ARGV[1] .. ':' .. id)
    removed = removed + 1
  end
end
return removed
