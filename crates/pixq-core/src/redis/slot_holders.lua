-- The live slot leases of a token, {{job, expiry}, ...}, the earliest expiry first.
-- KEYS: slots of the alias.
local flat = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'WITHSCORES')
local out = {}
for i = 1, #flat, 2 do
  out[#out + 1] = { flat[i], tonumber(flat[i + 1]) }
end
return out
