import { LUA_NOW_MS } from "../../routing/redis/index.ts";
import type { LuaScript } from "../../routing/redis/index.ts";

/*
 * Data model, per user (see redis-presence.ts for the why):
 *   <prefix>presence-holds:<user>  sorted set, member = gateway id, score = the hold's expiry
 *                                  (server ms); the key expires with its latest hold
 *   <prefix>presence-seen:<user>   hash: "g:<gateway>" = that gateway's last refresh (adapter
 *                                  clock ms), "last" = the recorded last seen; no TTL, it is the
 *                                  user's last-seen record
 * Both scripts take KEYS = [holds, seen].
 */

/**
 * Drops the lapsed holds, and the refresh times of gateways that no longer
 * hold the user (their whole holds key may have expired), folding those
 * times into "last": a lapsed hold still says when the user was last online.
 * Keeps the hash as small as the set of live holders.
 */
const LUA_FOLD_LAPSED = `
local function fold_lapsed(holds, seen, now)
  local fields = redis.call('HGETALL', seen)
  local last, folded = 0, false
  for i = 1, #fields, 2 do
    local field, at = fields[i], tonumber(fields[i + 1]) or 0
    if field == 'last' then
      if at > last then last = at end
    else
      local score = redis.call('ZSCORE', holds, string.sub(field, 3))
      if not score or tonumber(score) <= now then
        if at > last then last = at end
        redis.call('HDEL', seen, field)
        folded = true
      end
    end
  end
  redis.call('ZREMRANGEBYSCORE', holds, '-inf', now)
  if folded then redis.call('HSET', seen, 'last', last) end
end
`;

/**
 * ARGV: gateway, ttlMs, refreshedAtMs (adapter clock).
 * Arms (or re-arms) the gateway's hold and notes when it was refreshed.
 * Lapsed holds are left for release and readers to skip: a heartbeat is the
 * hot path and stays three writes.
 */
export const REFRESH_HOLD_SCRIPT: LuaScript = {
  name: "chatPresenceRefresh",
  numberOfKeys: 2,
  lua: `${LUA_NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now_ms() + ttl, ARGV[1])
redis.call('HSET', KEYS[2], 'g:' .. ARGV[1], ARGV[3])
-- The key lives as long as its latest hold: extend, never shorten another gateway's.
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`,
};

/**
 * ARGV: gateway, lastSeenMs.
 * Drops this gateway's hold, records lastSeenMs (never backwards: a late
 * release must not hide a newer time), and answers 1 when no live hold
 * remains, 0 otherwise. One script, so two gateways releasing the same user
 * at once cannot both see the other's hold and both answer 0.
 */
export const RELEASE_HOLD_SCRIPT: LuaScript = {
  name: "chatPresenceRelease",
  numberOfKeys: 2,
  lua: `${LUA_NOW_MS}${LUA_FOLD_LAPSED}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], 'g:' .. ARGV[1])
fold_lapsed(KEYS[1], KEYS[2], now_ms())
local released_at = tonumber(ARGV[2])
if released_at > (tonumber(redis.call('HGET', KEYS[2], 'last')) or 0) then
  redis.call('HSET', KEYS[2], 'last', ARGV[2])
end
-- After the fold only live holds remain.
if redis.call('ZCARD', KEYS[1]) == 0 then return 1 end
return 0
`,
};

export const PRESENCE_SCRIPTS: readonly LuaScript[] = [REFRESH_HOLD_SCRIPT, RELEASE_HOLD_SCRIPT];
