-- Releases a reservation whose upstream call made nothing: its key and its name (each only
-- while it still points at this reservation). ARGV[1..5] is Keys::character_layout, then id.
-- Returns 1, or 0 when there was no such reservation.
local names, idem, pending = ARGV[3], ARGV[4], ARGV[5]
local id = ARGV[6]

local r = redis.call('HMGET', pending .. id, 'key', 'name', 'started')
if not r[3] then
  return 0
end
if r[1] and r[1] ~= '' and redis.call('HGET', idem .. r[1], 'id') == id then
  redis.call('DEL', idem .. r[1])
end
if r[2] and r[2] ~= '' and redis.call('HGET', names, r[2]) == id then
  redis.call('HDEL', names, r[2])
end
redis.call('DEL', pending .. id)
return 1
