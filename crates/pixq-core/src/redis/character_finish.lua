-- Records the character a reservation paid for and ends the reservation (see characters.rs).
-- ARGV[1..5] is Keys::character_layout, then id, json_named, json_unnamed, created_ms. The
-- JSON is built by the caller (cjson would round a 15-digit asset id); the character keeps its
-- name only while the name still points at it. The key was bound to the id by begin.
-- Returns {'named', json}, {'unnamed', json}, or {'exists', json} when finished before.
local characters, by_time, names, pending = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local id, named, unnamed, created = ARGV[6], ARGV[7], ARGV[8], ARGV[9]

local json = redis.call('HGET', characters, id)
if json then
  return { 'exists', json }
end
local name = redis.call('HGET', pending .. id, 'name')
local tag, out = 'unnamed', unnamed
if name and name ~= '' and redis.call('HGET', names, name) == id then
  tag, out = 'named', named
end
redis.call('HSET', characters, id, out)
redis.call('ZADD', by_time, created, id)
redis.call('DEL', pending .. id)
return { tag, out }
