import pino from "pino";
import type { Logger } from "pino";
import { BackendUnavailableError } from "../../domain/index.ts";
import type { GatewayId } from "../../domain/index.ts";
import type { GatewayRegistry } from "../gateway-registry.ts";
import { DEFAULT_KEY_PREFIX, closeRedisClient, openRedisClient, toBackendError } from "./redis-client.ts";
import type { RedisConfig } from "./redis-client.ts";

/**
 * The gateway registry on Redis: one string per gateway
 * (`<prefix>gateway:<id>` = push address) whose key TTL is the
 * announcement's. Redis expires it by itself, so a crashed gateway vanishes
 * without anyone sweeping, and each call is a single command (atomic, no
 * script needed).
 *
 * @throws BackendUnavailableError when Redis cannot be reached, or after close
 */
export function createRedisGatewayRegistry(cfg: RedisConfig, deps: { logger?: Logger } = {}): GatewayRegistry {
  const logger = deps.logger ?? pino({ enabled: false });
  const client = openRedisClient(cfg, { logger, role: "gateway-registry" });
  const prefix = cfg.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const keyOf = (gatewayId: GatewayId) => `${prefix}gateway:${gatewayId}`;
  let closed = false;

  async function run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (closed) throw new BackendUnavailableError("redis", "redis gateway registry is closed");
    try {
      return await call();
    } catch (err) {
      throw toBackendError(err, operation);
    }
  }

  return {
    async announce(gatewayId, pushAddress, ttlMs) {
      await run("announce", () => client.set(keyOf(gatewayId), pushAddress, "PX", Math.max(1, Math.ceil(ttlMs))));
    },

    async lookup(gatewayId) {
      const address = await run("lookup", () => client.get(keyOf(gatewayId)));
      return address ?? undefined;
    },

    async withdraw(gatewayId) {
      await run("withdraw", () => client.del(keyOf(gatewayId)));
    },

    async close() {
      if (closed) return;
      closed = true;
      await closeRedisClient(client);
    },
  };
}
