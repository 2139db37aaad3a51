import { expect, test } from "bun:test";
import pino from "pino";
import { closeRedisClient, deleteKeysWithPrefix, openRedisClient, parseRedisUrl } from "../../routing/redis/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { expectFleetConsistent, expectRecovered, quickRedisRefresh, startTraffic, triangleFleet, useFaultCluster, watchRegistration } from "./fault-helpers.ts";

/**
 * Redis losing this cluster's keys on the shared Redis server: only this
 * cluster's key prefix is deleted (never FLUSHDB). redis-restart.test.ts
 * kills a private Redis server instead.
 */
describeWithBackends("Redis keys of the cluster flushed while clients send", ["kafka", "cassandra", "redis"], (backends) => {
  // Route refreshes and registry announcements every 1 s (a third of the TTL), presence heartbeats too.
  const suite = useFaultCluster(backends, { gateways: 2, workers: 2, env: quickRedisRefresh });

  test("routes, presence and the gateway registry rebuild from live connections; messages flow live again and none sent in the gap is lost", async () => {
    const cluster = suite.cluster();
    const fleet = await suite.openFleet(triangleFleet(1));
    const registration = watchRegistration(cluster, fleet);
    try {
      await registration.waitComplete("the cluster to be registered");
      const traffic = startTraffic(fleet, { intervalMs: 10, max: 800, prefix: "r" });
      await Bun.sleep(1_000);

      const redisConfig = parseRedisUrl(cluster.env.REDIS_URL!);
      const redis = openRedisClient(redisConfig, { logger: pino({ level: "silent" }), role: "test-flush" });
      // The routes existed and went with the flush. (Not checked by reading the routes right
      // after: a gateway's refresh, every second here, may have rewritten them already.)
      const routeKeys = (await redis.keys(`${redisConfig.keyPrefix!}user-routes:*`)).length;
      expect(routeKeys).toBeGreaterThan(0);
      expect(await deleteKeysWithPrefix(redis, redisConfig.keyPrefix!)).toBeGreaterThanOrEqual(routeKeys);
      await closeRedisClient(redis);

      await expectRecovered(fleet, registration, "after-flush");
      await Bun.sleep(500);
      expect(await traffic.stop()).toBeGreaterThan(100);
    } finally {
      await registration.close();
    }
    await expectFleetConsistent(fleet, cluster.gateways[0]!.url);
  }, 60_000);
});
