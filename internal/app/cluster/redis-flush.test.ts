import { afterAll, beforeAll, expect, test } from "bun:test";
import pino from "pino";
import { asGatewayId, asUserId, systemClock } from "../../domain/index.ts";
import { createRedisPresenceStore } from "../../presence/redis/index.ts";
import {
  closeRedisClient,
  createRedisGatewayRegistry,
  deleteKeysWithPrefix,
  openRedisClient,
  parseRedisUrl,
} from "../../routing/redis/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { createClusterFleet, type ClusterFleet } from "./cluster-fleet.ts";
import { expectDeliveredLive, routedGateways, waitUntil } from "./fault-helpers.ts";
import { settleFleet, verifyFleet, violationsOf } from "./fleet-verdict.ts";
import { startTestCluster, type TestCluster } from "./test-cluster.ts";

/**
 * Redis losing its data. Only the flush case is tested: the Redis server is
 * shared with other users of this machine, so it cannot be restarted here,
 * and only this cluster's key prefix is deleted (never FLUSHDB). A restart
 * without persistence loses the same keys, so it takes the same recovery path.
 */
describeWithBackends("Redis keys of the cluster flushed while clients send", ["kafka", "cassandra", "redis"], (backends) => {
  let cluster: TestCluster;
  let fleet: ClusterFleet | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster(backends, {
      gateways: 2,
      workers: 2,
      // Route refreshes and registry announcements every 1 s (a third of the TTL), presence heartbeats too.
      env: { ROUTE_TTL_MS: "3000", GATEWAY_REGISTRY_TTL_MS: "3000", PRESENCE_TTL_MS: "3000", PRESENCE_REFRESH_MS: "1000" },
    });
  }, 90_000);
  afterAll(async () => {
    await fleet?.close();
    await cluster?.destroy();
  }, 60_000);

  test("routes, presence and the gateway registry rebuild from live connections; messages flow live again and none sent in the gap is lost", async () => {
    fleet = await createClusterFleet(cluster.gateways, {
      devices: [
        { user: "alice", gateway: 0, mode: "bidi" },
        { user: "alice", gateway: 1, mode: "subscribe" },
        { user: "bob", gateway: 1, mode: "bidi" },
        { user: "bob", gateway: 0, mode: "subscribe" },
        { user: "carol", gateway: 1, mode: "bidi" },
      ],
      conversations: [
        ["alice", "bob"],
        ["bob", "carol"],
        ["carol", "alice"],
      ],
    });
    const [alice0, alice1, bob0, carol0] = fleet.named("alice#0", "alice#1", "bob#0", "carol#0");
    const [abId, , caId] = fleet.conversations.map((c) => c.conversationId) as [string, string, string];
    const redisConfig = parseRedisUrl(cluster.env.REDIS_URL!);
    const registry = createRedisGatewayRegistry(redisConfig);
    const presence = createRedisPresenceStore(redisConfig, { clock: systemClock });
    const userIds = fleet.users.map((u) => asUserId(u.userId));
    const routesComplete = async () => {
      const routes = await routedGateways(cluster, fleet!.devices);
      return fleet!.devices.every((d) => routes.get(d.deviceId) === cluster.gateways[d.proxy.target.port === cluster.gateways[0]!.port ? 0 : 1]!.name);
    };
    const registryComplete = async () =>
      (await Promise.all(cluster.gateways.map((g) => registry.lookup(asGatewayId(g.name))))).every((a) => a !== undefined);
    const allOnline = async () => [...(await presence.lookup(userIds)).values()].every((p) => p.online);

    try {
      await waitUntil(async () => (await routesComplete()) && (await registryComplete()) && (await allOnline()), 10_000, "the cluster to be registered");
      const stop = new AbortController();
      const traffic = fleet.traffic(stop.signal, { intervalMs: 10, max: 800, prefix: "r" });
      await Bun.sleep(1_000);

      const redis = openRedisClient(redisConfig, { logger: pino({ level: "silent" }), role: "test-flush" });
      expect(await deleteKeysWithPrefix(redis, redisConfig.keyPrefix!)).toBeGreaterThan(0);
      await closeRedisClient(redis);
      expect(await routesComplete()).toBe(false);

      // Bounded: a few refresh intervals of 1 s.
      await waitUntil(routesComplete, 10_000, "every device's route to be rebuilt");
      await waitUntil(registryComplete, 10_000, "every gateway to be announced again");
      await waitUntil(allOnline, 10_000, "every user to be online again");
      await expectDeliveredLive(fleet, alice0, bob0, abId, "after-flush-1", 10_000);
      await expectDeliveredLive(fleet, carol0, alice1, caId, "after-flush-2", 10_000);

      await Bun.sleep(500);
      stop.abort();
      expect(await traffic).toBeGreaterThan(100);
    } finally {
      await registry.close();
      await presence.close();
    }
    await settleFleet(fleet, () => cluster.gateways[0]!.url, 30_000);
    expect(violationsOf(await verifyFleet(fleet, cluster.gateways[0]!.url))).toEqual([]);
  }, 60_000);
});
