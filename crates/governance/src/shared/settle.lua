-- Settles admitted requests: releases their reservations and adds their real usage. Applied at
-- most once: a batch sent again after a lost answer carries the same sequence number.
--
-- KEYS[1]                the hash of the last batch applied per node (node id -> sequence)
-- KEYS[2i], KEYS[2i+1]   part i: the used amount in the window the request ended in, and the
--                        hash of reservations in flight (empty for usage settled offline)
-- ARGV[1], ARGV[2]       this node's id, and the batch's sequence number
-- ARGV[3i..3i+2]         part i: the amount reserved, the amount used, and how long (ms) the
--                        used amount must be kept (to the window's end, with a margin)
local node = ARGV[1]
local seq = tonumber(ARGV[2])
if seq <= tonumber(redis.call('HGET', KEYS[1], node) or '0') then
  return 0
end
redis.call('HSET', KEYS[1], node, seq)
local n = (#KEYS - 1) / 2
for i = 1, n do
  local used_key, held_key = KEYS[2 * i], KEYS[2 * i + 1]
  local release = tonumber(ARGV[3 * i])
  local add = tonumber(ARGV[3 * i + 1])
  local ttl = tonumber(ARGV[3 * i + 2])
  if release > 0 then
    local left = redis.call('HINCRBY', held_key, node, -release)
    if left <= 0 then
      redis.call('HDEL', held_key, node)
    end
  end
  if add > 0 then
    redis.call('INCRBY', used_key, add)
    if ttl > 0 then
      redis.call('PEXPIRE', used_key, ttl)
    end
  end
end
return n
