-- Records a pipeline's run unless a run of the same or a later tick is recorded already, so
-- a run only moves forward and its tick and batch move together. Standalone: ARGV[1] is the
-- pipeline's key, then tick_ms, batch. Returns 1 when recorded, 0 otherwise.
local key, tick, batch = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local current = redis.call('HGET', key, 'tick')
if current and tonumber(current) >= tick then
  return 0
end
redis.call('HSET', key, 'tick', tick, 'batch', batch)
return 1
