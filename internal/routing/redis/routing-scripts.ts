import { LUA_NOW_MS } from "./lua-script.ts";
import type { LuaScript } from "./lua-script.ts";

/*
 * Data model (see redis-routing.ts for the why):
 *   <prefix>route:<device>      hash { u: user, g: gateway, s: session }, expires with the route
 *   <prefix>user-routes:<user>  sorted set, member = JSON [device, gateway, session],
 *                               score = the route's expiry (server ms); the key itself expires
 *                               with its latest member
 * The hash is the truth for compare-and-set by device; the sorted set is the
 * per-user index that routesOf reads. Every write below keeps them in step.
 */

/** Shared Lua: member encoding and the index upkeep every write performs. */
const LUA_INDEX = `
local function member(device, gateway, session)
  return cjson.encode({device, gateway, session})
end

-- Adds or re-arms a member, drops the members that have lapsed (lazy pruning:
-- a device that never comes back costs nothing until its user's next write),
-- and lets the whole key expire with its latest member.
local function index_put(index, m, expires_at, now)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  redis.call('ZADD', index, expires_at, m)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, top[2])
end
`;

/**
 * KEYS: route, index of the new route's user.
 * ARGV: device, user, gateway, session, ttlMs, index key prefix.
 * Returns the replaced live route as [user, gateway, session], or nil.
 */
export const REGISTER_SCRIPT: LuaScript = {
  name: "chatRoutingRegister",
  numberOfKeys: 2,
  lua: `${LUA_NOW_MS}${LUA_INDEX}
local now = now_ms()
local expires_at = now + tonumber(ARGV[5])
local old = redis.call('HMGET', KEYS[1], 'u', 'g', 's')
if old[1] then
  -- A device registered under another user (never expected, but possible
  -- through the API) must leave that user's index, which we can only name here.
  local old_index = KEYS[2]
  if old[1] ~= ARGV[2] then old_index = ARGV[6] .. old[1] end
  redis.call('ZREM', old_index, member(ARGV[1], old[2], old[3]))
end
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'g', ARGV[3], 's', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], expires_at)
index_put(KEYS[2], member(ARGV[1], ARGV[3], ARGV[4]), expires_at, now)
if old[1] then return old end
return false
`,
};

/**
 * KEYS: route, index of the route's user.
 * ARGV: device, user, gateway, session, ttlMs.
 * Re-arms the route if the stored session is this one, restores it if the
 * device has no route (it lapsed, or the server lost its data), and leaves a
 * newer session's route alone. Returns 1 when re-armed, 2 when restored (it was gone), 0 when left alone.
 */
export const REFRESH_SCRIPT: LuaScript = {
  name: "chatRoutingRefresh",
  numberOfKeys: 2,
  lua: `${LUA_NOW_MS}${LUA_INDEX}
local current = redis.call('HGET', KEYS[1], 's')
if current and current ~= ARGV[4] then return 0 end
local now = now_ms()
local expires_at = now + tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'g', ARGV[3], 's', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], expires_at)
index_put(KEYS[2], member(ARGV[1], ARGV[3], ARGV[4]), expires_at, now)
if current then return 1 end
return 2
`,
};

/**
 * KEYS: route.
 * ARGV: device, session, index key prefix.
 * Compare-and-delete on the session. The user's index key is derived here
 * from the stored user because the caller only knows the device.
 * Returns 1 when removed, 0 otherwise.
 */
export const UNREGISTER_SCRIPT: LuaScript = {
  name: "chatRoutingUnregister",
  numberOfKeys: 1,
  lua: `${LUA_INDEX}
local current = redis.call('HMGET', KEYS[1], 'u', 'g', 's')
if current[3] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[3] .. current[1], member(ARGV[1], current[2], current[3]))
return 1
`,
};

export const ROUTING_SCRIPTS: readonly LuaScript[] = [REGISTER_SCRIPT, REFRESH_SCRIPT, UNREGISTER_SCRIPT];
