import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import pino from "pino";
import { asDeviceId, asGatewayId, asUserId } from "../../domain/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { describeGatewayRegistry } from "../gateway-registry.conformance.ts";
import type { RouteEntry } from "../routing-table.ts";
import { describeRoutingTable } from "../routing-table.conformance.ts";
import { closeRedisClient, deleteKeysWithPrefix, openRedisClient } from "./redis-client.ts";
import { createRedisGatewayRegistry } from "./redis-gateway-registry.ts";
import { createRedisRoutingTable } from "./redis-routing.ts";

const logger = pino({ enabled: false });

describeWithBackends("redis routing", ["redis"], ({ redis }) => {
  // Every fixture gets its own key prefix; its keys are deleted on dispose,
  // so runs sharing the test database never see each other's state.
  let admin: Redis;
  beforeAll(() => {
    admin = openRedisClient({ url: redis.url }, { logger, role: "test-admin" });
  });
  afterAll(() => closeRedisClient(admin));
  const newPrefix = () => `test:routing:${crypto.randomUUID()}:`;

  describeRoutingTable("redis", async () => {
    const keyPrefix = newPrefix();
    const table = createRedisRoutingTable({ url: redis.url, keyPrefix }, { logger });
    return {
      table,
      advance: (ms) => Bun.sleep(ms),
      dispose: async () => {
        await table.close();
        await deleteKeysWithPrefix(admin, keyPrefix);
      },
    };
  });

  describeGatewayRegistry("redis", async () => {
    const keyPrefix = newPrefix();
    const registry = createRedisGatewayRegistry({ url: redis.url, keyPrefix }, { logger });
    return {
      registry,
      advance: (ms) => Bun.sleep(ms),
      dispose: async () => {
        await registry.close();
        await deleteKeysWithPrefix(admin, keyPrefix);
      },
    };
  });

  describe("after the server lost its data", () => {
    // Stands in for FLUSHDB: the adapter owns nothing outside its prefix, so
    // losing every key under it is the same event for the adapter, and a real
    // FLUSHDB would also wipe whatever else shares the test database.
    test("routes come back only through register or a refresh of the same session", async () => {
      const keyPrefix = newPrefix();
      const table = createRedisRoutingTable({ url: redis.url, keyPrefix }, { logger });
      const suffix = crypto.randomUUID().slice(0, 8);
      const route = (device: string, session: string): RouteEntry => ({
        deviceId: asDeviceId(`alice-${device}-${suffix}`),
        userId: asUserId(`alice-${suffix}`),
        gatewayId: asGatewayId("gw-1"),
        sessionId: `${session}-${suffix}`,
      });
      const [phone, laptop] = [route("phone", "s1"), route("laptop", "s2")];
      try {
        await table.register(phone, 60_000);
        await table.register(laptop, 60_000);
        expect(await deleteKeysWithPrefix(admin, keyPrefix)).toBeGreaterThan(0);

        // Nothing is rebuilt behind the gateways' backs: the table is empty...
        expect(await table.routesOf([phone.userId])).toEqual([]);
        expect(await table.unregister(phone.deviceId, phone.sessionId)).toBe(false);
        // ...until the next heartbeat re-creates the routes of the sessions still streaming.
        await table.refresh([phone], 60_000);
        expect(await table.routesOf([phone.userId])).toEqual([phone]);
        expect(await table.register(laptop, 60_000)).toBeUndefined();
        expect(sortByDevice(await table.routesOf([phone.userId]))).toEqual(sortByDevice([phone, laptop]));
      } finally {
        await table.close();
        await deleteKeysWithPrefix(admin, keyPrefix);
      }
    });
  });

  test("a route replaced through another user leaves the old user's routes", async () => {
    const keyPrefix = newPrefix();
    const table = createRedisRoutingTable({ url: redis.url, keyPrefix }, { logger });
    const suffix = crypto.randomUUID().slice(0, 8);
    const deviceId = asDeviceId(`shared-${suffix}`);
    const gatewayId = asGatewayId("gw-1");
    const first: RouteEntry = { deviceId, userId: asUserId(`alice-${suffix}`), gatewayId, sessionId: "s1" };
    const second: RouteEntry = { ...first, userId: asUserId(`bob-${suffix}`), sessionId: "s2" };
    try {
      await table.register(first, 60_000);
      expect(await table.register(second, 60_000)).toEqual(first);
      expect(await table.routesOf([first.userId])).toEqual([]);
      expect(await table.routesOf([second.userId])).toEqual([second]);
    } finally {
      await table.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
    }
  });
});

const sortByDevice = (routes: readonly RouteEntry[]) =>
  [...routes].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
