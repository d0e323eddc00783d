-- Admits one request against several counters, all or nothing, atomically across nodes.
--
-- KEYS[1]          the hash of live nodes (node id -> last heartbeat, Redis TIME in ms)
-- KEYS[2i], KEYS[2i+1]  counter i: its used amount in the current window (a string integer),
--                  and the hash of reservations in flight (node id -> amount)
-- ARGV[1]          this node's id
-- ARGV[2]          how long (ms) a node may stay silent before its reservations are dropped
-- ARGV[2+2i-1], ARGV[2+2i]   counter i: its limit, and the amount this request reserves
--
-- A counter admits while used + live reservations < limit (Bifrost's "admit while there is
-- headroom", with requests in flight counted). Returns {0, nodes, used_1, held_1, …, used_n,
-- held_n} when admitted (held_i: every node's live reservations on counter i, this request's
-- included; the reservations are then added under this node's id), or
-- {i, nodes, used_i + reserved_i} for the first counter i without headroom (nothing is
-- reserved); `nodes` is how many nodes the live-node hash holds.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node = ARGV[1]
local stale = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], node, now)
local n = (#KEYS - 1) / 2
local nodes = redis.call('HLEN', KEYS[1])
local alive = {}
local used_all = {0, nodes}
for i = 1, n do
  local used_key, held_key = KEYS[2 * i], KEYS[2 * i + 1]
  local limit = tonumber(ARGV[1 + 2 * i])
  local used = tonumber(redis.call('GET', used_key) or '0')
  local reserved = 0
  local fields = redis.call('HGETALL', held_key)
  for j = 1, #fields, 2 do
    local who = fields[j]
    local live = alive[who]
    if live == nil then
      local seen = tonumber(redis.call('HGET', KEYS[1], who) or '0')
      live = (now - seen) <= stale
      alive[who] = live
    end
    if live then
      reserved = reserved + tonumber(fields[j + 1])
    else
      redis.call('HDEL', held_key, who)
    end
  end
  if used + reserved >= limit then
    return {i, nodes, used + reserved}
  end
  used_all[2 * i + 1] = used
  used_all[2 * i + 2] = reserved + tonumber(ARGV[2 + 2 * i])
end
for i = 1, n do
  local amount = tonumber(ARGV[2 + 2 * i])
  if amount > 0 then
    redis.call('HINCRBY', KEYS[2 * i + 1], node, amount)
  end
end
return used_all
