import { beforeAll, expect, test } from "bun:test";
import { describeWhenAvailable, describeWithBackends, redisServerBinary, startPrivateRedis, type PrivateRedis } from "../../testkit/index.ts";
import {
  expectFleetConsistent,
  expectRecovered,
  quickRedisRefresh,
  startTraffic,
  triangleFleet,
  useFaultCluster,
  watchRegistration,
} from "./fault-helpers.ts";

/**
 * The Redis server itself dies and comes back empty, under a running
 * cluster: a private redis-server (the shared one serves others and cannot
 * be restarted), killed with SIGKILL mid-traffic and started again on the
 * same port without persistence. Routes come back from the gateways'
 * refresh (and the sessions whose route was restored resync), presence from
 * their heartbeats, the registry from their announcements.
 */
describeWithBackends("Redis server killed and restarted empty while clients send", ["kafka", "cassandra"], (backends) => {
  const missing = redisServerBinary() ? undefined : "needs redis-server on PATH (scripts/infra/services.sh installs it)";
  describeWhenAvailable("a private redis-server", missing, () => {
    let redis: PrivateRedis | undefined;
    // Registered before the cluster's hooks: the server is up before the cluster starts on it.
    beforeAll(async () => {
      redis = await startPrivateRedis();
    });
    const suite = useFaultCluster(
      () => ({ ...backends, redis: { url: redis!.url } }),
      { gateways: 2, workers: 2, env: quickRedisRefresh },
      { afterDestroy: async () => redis?.stop() },
    );

    test("routes, presence and the registry come back; nothing acknowledged is lost, duplicated or reordered, and every device converges", async () => {
      const cluster = suite.cluster();
      const fleet = await suite.openFleet(triangleFleet(1));
      const registration = watchRegistration(cluster, fleet);
      try {
        await registration.waitComplete("the cluster to be registered");
        const traffic = startTraffic(fleet, { intervalMs: 10, max: 800, prefix: "rr" });
        await Bun.sleep(1_000);
        const before = redis!.pid;
        await redis!.kill();
        // Down across a refresh: route refreshes, presence heartbeats and the workers' route lookups fail meanwhile.
        expect(await registration.routesComplete()).toBe(false);
        await Bun.sleep(1_500);
        await redis!.restart();
        expect(redis!.pid).not.toBe(before);

        await expectRecovered(fleet, registration, "after-restart");
        await Bun.sleep(500);
        expect(await traffic.stop()).toBeGreaterThan(100);
      } finally {
        await registration.close();
      }
      await expectFleetConsistent(fleet, cluster.gateways[0]!.url, { everySendAcked: true });
    }, 90_000);
  });
});
