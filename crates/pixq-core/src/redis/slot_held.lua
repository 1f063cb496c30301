-- How many slot leases of a token are live. KEYS: slots of the alias.
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
