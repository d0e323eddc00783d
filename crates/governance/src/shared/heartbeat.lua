-- Records this node as alive and counts the nodes alive (heard from within the stale time).
--
-- KEYS[1]  the hash of live nodes (node id -> last heartbeat, Redis TIME in ms)
-- KEYS[2]  the hash of the last settle batch applied per node (forgotten with the node)
-- ARGV[1]  this node's id
-- ARGV[2]  how long (ms) a node may stay silent and still count as alive
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], now)
local stale = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local live = 0
for j = 1, #all, 2 do
  if now - tonumber(all[j + 1]) <= stale then
    live = live + 1
  else
    redis.call('HDEL', KEYS[1], all[j])
    redis.call('HDEL', KEYS[2], all[j])
  end
end
return live
