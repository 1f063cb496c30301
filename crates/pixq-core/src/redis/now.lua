-- Prepended to every script that compares with lease expiries: `now` is the Redis server's
-- time in milliseconds, so one clock decides for every worker whatever the machines' clocks.
local server_time = redis.call('TIME')
local now = tonumber(server_time[1]) * 1000 + math.floor(tonumber(server_time[2]) / 1000)
