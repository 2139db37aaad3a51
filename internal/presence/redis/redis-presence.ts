import pino from "pino";
import type { Logger } from "pino";
import { BackendUnavailableError } from "../../domain/index.ts";
import type { Clock, UserId } from "../../domain/index.ts";
import {
  DEFAULT_KEY_PREFIX,
  callScript,
  closeRedisClient,
  defineScripts,
  execPipeline,
  openRedisClient,
  serverTimeMs,
  toBackendError,
} from "../../routing/redis/index.ts";
import type { RedisConfig } from "../../routing/redis/index.ts";
import type { PresenceState, PresenceStore } from "../presence-store.ts";
import { createPresenceChannel } from "./presence-channel.ts";
import { PRESENCE_SCRIPTS, REFRESH_HOLD_SCRIPT, RELEASE_HOLD_SCRIPT } from "./presence-scripts.ts";

/**
 * The presence store on Redis (DESIGN §8), shared by every gateway.
 *
 * Holds expire through a sorted set per user (member = gateway, score =
 * expiry on the server's clock) rather than a key with its own TTL per
 * (user, gateway): "is anyone holding this user?" is then one read of one
 * key, whereas per-key TTLs would need an index of each user's gateways
 * beside them (and that index cannot expire its members by itself). Readers
 * skip lapsed members by score; `release` removes them; the set's key
 * expires with its latest hold, so a user nobody holds costs nothing.
 *
 * Liveness is judged on the server's clock, so gateways whose clocks
 * disagree still agree on who is online. Times recorded for "last seen" are
 * the gateways' own clock readings (`deps.clock` here, `lastSeenMs` in
 * release), the same clock the presence service reports.
 *
 * - `refresh`: one pipeline per call, one small script per user.
 * - `release`: one script (drop, record, answer whether any hold is left).
 * - `lookup`: one pipeline: TIME, then the holds and the last-seen record
 *   of every asked user.
 * - `publish`/`subscribe`: see presence-channel.ts.
 *
 * After data loss (a restart without persistence, a flush) every user reads
 * offline with lastSeenMs 0 until their gateway's next heartbeat re-arms the
 * holds; the last-seen records of users who were offline are gone.
 *
 * @throws BackendUnavailableError when Redis cannot be reached, or after close
 */
export function createRedisPresenceStore(
  cfg: RedisConfig,
  deps: { clock: Clock; logger?: Logger },
): PresenceStore {
  const { clock } = deps;
  const logger = deps.logger ?? pino({ enabled: false });
  const prefix = cfg.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const client = openRedisClient(cfg, { logger, role: "presence" });
  defineScripts(client, PRESENCE_SCRIPTS);
  const channelName = `${prefix}presence-changes`;
  const channel = createPresenceChannel({ ...cfg, channel: channelName }, { publisher: client, logger });
  const keysOf = (userId: UserId) => [`${prefix}presence-holds:${userId}`, `${prefix}presence-seen:${userId}`];
  let closed = false;

  async function run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (closed) throw new BackendUnavailableError("redis", "redis presence store is closed");
    try {
      return await call();
    } catch (err) {
      throw toBackendError(err, operation);
    }
  }

  return {
    async refresh(gatewayId, userIds, ttlMs) {
      if (userIds.length === 0) return;
      const refreshedAtMs = clock.nowMs();
      const ttl = Math.max(1, Math.ceil(ttlMs));
      await run("refresh", async () => {
        const pipeline = client.pipeline();
        for (const userId of new Set(userIds)) {
          callScript(pipeline, REFRESH_HOLD_SCRIPT, keysOf(userId), [gatewayId, ttl, refreshedAtMs]);
        }
        await execPipeline(pipeline, "refresh");
      });
    },

    async release(gatewayId, userId, lastSeenMs) {
      const unheld = await run("release", async () => {
        const args = [gatewayId, Math.floor(lastSeenMs)];
        return (await callScript(client, RELEASE_HOLD_SCRIPT, keysOf(userId), args)) as number;
      });
      return unheld === 1;
    },

    async lookup(userIds) {
      const users = [...new Set(userIds)];
      if (users.length === 0) return new Map();
      const [time, ...replies] = await run("lookup", async () => {
        const pipeline = client.pipeline().time();
        for (const userId of users) {
          const [holds, seen] = keysOf(userId) as [string, string];
          pipeline.zrange(holds, 0, -1, "WITHSCORES").hgetall(seen);
        }
        return execPipeline(pipeline, "lookup");
      });
      const nowMs = serverTimeMs(time);
      return new Map(
        users.map((userId, i) => {
          const holds = replies[2 * i] as string[];
          const seen = replies[2 * i + 1] as Record<string, string>;
          return [userId, stateOf(userId, holds, seen, nowMs)] as const;
        }),
      );
    },

    publish: (changes) => channel.publish(changes),
    subscribe: (listener) => channel.subscribe(listener),

    async close() {
      if (closed) return;
      closed = true;
      // The subscriber first: nothing may arrive for listeners of a closed store.
      await channel.close();
      await closeRedisClient(client);
    },
  };
}

/**
 * A user's state from their holds (gateway, expiry, ...) and last-seen hash:
 * online with the latest refresh among live holds, or offline with the
 * latest time known, whether recorded by a release or left by a lapsed hold.
 */
function stateOf(
  userId: UserId,
  holds: readonly string[],
  seen: Readonly<Record<string, string>>,
  nowMs: number,
): PresenceState {
  const refreshedAt = (gatewayId: string) => Number(seen[`g:${gatewayId}`] ?? 0);
  let online = false;
  let latestRefreshMs = 0;
  for (let i = 0; i + 1 < holds.length; i += 2) {
    if (Number(holds[i + 1]) <= nowMs) continue;
    online = true;
    latestRefreshMs = Math.max(latestRefreshMs, refreshedAt(holds[i]!));
  }
  if (online) return { userId, online, lastSeenMs: latestRefreshMs };
  const known = Object.values(seen).map(Number).filter(Number.isFinite);
  return { userId, online, lastSeenMs: Math.max(0, ...known) };
}
