-- Settles one admitted request: releases its reservations and adds its real usage.
--
-- KEYS[2i-1], KEYS[2i]   counter i: its used amount in the window the request ends in, and
--                        the hash of reservations in flight
-- ARGV[1]                this node's id
-- ARGV[1+3i-2..1+3i]     counter i: the amount reserved, the amount used, and how long (ms)
--                        the used amount must be kept (to the window's end, with a margin)
local node = ARGV[1]
local n = #KEYS / 2
for i = 1, n do
  local used_key, held_key = KEYS[2 * i - 1], KEYS[2 * i]
  local release = tonumber(ARGV[3 * i - 1])
  local add = tonumber(ARGV[3 * i])
  local ttl = tonumber(ARGV[3 * i + 1])
  if release > 0 then
    local left = redis.call('HINCRBY', held_key, node, -release)
    if left <= 0 then
      redis.call('HDEL', held_key, node)
    end
  end
  if add > 0 then
    redis.call('INCRBY', used_key, add)
  end
  if ttl > 0 then
    redis.call('PEXPIRE', used_key, ttl)
  end
end
return n
