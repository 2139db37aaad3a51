import pino from "pino";
import type { Logger } from "pino";
import { BackendUnavailableError, asDeviceId, asGatewayId, asUserId } from "../../domain/index.ts";
import type { DeviceId, UserId } from "../../domain/index.ts";
import type { RouteEntry, RoutingTable } from "../routing-table.ts";
import { callScript, defineScripts } from "./lua-script.ts";
import {
  DEFAULT_KEY_PREFIX,
  closeRedisClient,
  execPipeline,
  openRedisClient,
  serverTimeMs,
  toBackendError,
} from "./redis-client.ts";
import type { RedisConfig } from "./redis-client.ts";
import { REFRESH_SCRIPT, REGISTER_SCRIPT, ROUTING_SCRIPTS, UNREGISTER_SCRIPT } from "./routing-scripts.ts";

/**
 * The routing table on Redis (DESIGN §6), shared by every gateway and worker.
 *
 * Per device, a hash (user, gateway, session) expiring with the route: the
 * truth that register and unregister compare against, in Lua, so "replace
 * and tell me what was there" and "delete only if still my session" are
 * atomic against other gateways. Per user, a sorted set indexing the user's
 * routes, scored by expiry on the server's clock: `routesOf` for many users is
 * then one pipelined round trip (TIME plus one ZRANGE per user), with no
 * per-device reads. A sorted set rather than a plain set because its members
 * cannot carry their own TTL: the score says which have lapsed, readers skip
 * them, and writes to that user prune them.
 *
 * Redis holds live state only. After data loss (a restart without
 * persistence, a flush) every route is gone until its gateway's next
 * heartbeat: `refresh` re-creates a missing route of the same session,
 * exactly as it restores a route that lapsed while its gateway stalled.
 *
 * @throws BackendUnavailableError when Redis cannot be reached, or after close
 */
export function createRedisRoutingTable(cfg: RedisConfig, deps: { logger?: Logger } = {}): RoutingTable {
  const logger = deps.logger ?? pino({ enabled: false });
  const client = openRedisClient(cfg, { logger, role: "routing" });
  defineScripts(client, ROUTING_SCRIPTS);
  const keys = routingKeys(cfg.keyPrefix ?? DEFAULT_KEY_PREFIX);
  let closed = false;

  /** Runs one client call, mapping its failures to domain errors. */
  async function run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (closed) throw new BackendUnavailableError("redis", "redis routing table is closed");
    try {
      return await call();
    } catch (err) {
      throw toBackendError(err, operation);
    }
  }

  const routeKeys = (route: RouteEntry) => [keys.route(route.deviceId), keys.index(route.userId)];
  const routeArgs = (route: RouteEntry, ttlMs: number) =>
    [route.deviceId, route.userId, route.gatewayId, route.sessionId, Math.max(1, Math.ceil(ttlMs))] as const;

  return {
    async register(route, ttlMs) {
      const previous = await run("register", async () => {
        const args = [...routeArgs(route, ttlMs), keys.indexPrefix];
        return (await callScript(client, REGISTER_SCRIPT, routeKeys(route), args)) as [string, string, string] | null;
      });
      if (previous === null) return undefined;
      const [userId, gatewayId, sessionId] = previous;
      return { deviceId: route.deviceId, userId: asUserId(userId), gatewayId: asGatewayId(gatewayId), sessionId };
    },

    async refresh(routes, ttlMs) {
      if (routes.length === 0) return [];
      return run("refresh", async () => {
        // One pipeline per gateway tick; each route is its own small script
        // so a big gateway never blocks the server in one long call.
        const pipeline = client.pipeline();
        for (const route of routes) {
          callScript(pipeline, REFRESH_SCRIPT, routeKeys(route), routeArgs(route, ttlMs));
        }
        const replies = await execPipeline(pipeline, "refresh");
        // 2 = the route was gone (expired or lost with Redis' data) and is restored.
        return routes.filter((_, i) => Number(replies[i]) === 2);
      });
    },

    async unregister(deviceId, sessionId) {
      const removed = await run("unregister", async () => {
        const args = [deviceId, sessionId, keys.indexPrefix];
        return (await callScript(client, UNREGISTER_SCRIPT, [keys.route(deviceId)], args)) as number;
      });
      return removed === 1;
    },

    async routesOf(userIds) {
      const users = [...new Set(userIds)];
      if (users.length === 0) return [];
      const [time, ...indexes] = await run("routesOf", async () => {
        const pipeline = client.pipeline().time();
        for (const userId of users) pipeline.zrange(keys.index(userId), 0, -1, "WITHSCORES");
        return execPipeline(pipeline, "routesOf");
      });
      const nowMs = serverTimeMs(time);
      return users.flatMap((userId, i) => liveRoutes(userId, indexes[i] as string[], nowMs, logger));
    },

    async close() {
      if (closed) return;
      closed = true;
      await closeRedisClient(client);
    },
  };
}

/** Key names under one prefix. Ids come last in each key, so no id can make two keys collide. */
function routingKeys(prefix: string) {
  const indexPrefix = `${prefix}user-routes:`;
  return {
    indexPrefix,
    route: (deviceId: DeviceId) => `${prefix}route:${deviceId}`,
    index: (userId: UserId) => `${indexPrefix}${userId}`,
  };
}

/** Decodes a user's index (member, score, member, score...), keeping the members that have not lapsed. */
function liveRoutes(userId: UserId, flat: readonly string[], nowMs: number, logger: Logger): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (Number(flat[i + 1]) <= nowMs) continue;
    const decoded = decodeMember(flat[i]!);
    if (decoded === undefined) {
      logger.warn({ userId, member: flat[i] }, "redis routing index member is malformed; skipped");
      continue;
    }
    const [deviceId, gatewayId, sessionId] = decoded;
    routes.push({ deviceId: asDeviceId(deviceId), userId, gatewayId: asGatewayId(gatewayId), sessionId });
  }
  return routes;
}

function decodeMember(member: string): [string, string, string] | undefined {
  try {
    const value: unknown = JSON.parse(member);
    if (Array.isArray(value) && value.length === 3 && value.every((part) => typeof part === "string")) {
      return value as [string, string, string];
    }
  } catch {
    // Falls through: a member some other writer put there is not ours to interpret.
  }
  return undefined;
}
