import { expect, test } from "bun:test";
import { describeWithBackends } from "../../testkit/index.ts";
import type { ClusterFleet, FleetUser } from "./cluster-fleet.ts";
import { expectFleetConsistent, groupProgress, startTraffic, topicOf, triangleFleet, useFaultCluster, waitUntil } from "./fault-helpers.ts";
import { directApi } from "./fleet-verdict.ts";

/**
 * DESIGN §4's required test, with separate processes: a stale owner keeps
 * processing partitions that belong to others while clients retry. The stale
 * owner is a worker in a consumer group of its own, started late: it replays
 * the topic from the beginning and then races the real owners on live
 * records, writing to the same store and pushing to the same gateways.
 */
describeWithBackends("zombie worker racing the real owners while clients retry", ["kafka", "cassandra", "redis"], (backends) => {
  const suite = useFaultCluster(backends, { gateways: 2, workers: 2, partitions: 6 });

  /** Sends one message 3 times under one client id, straight to a gateway (a client retrying blindly). */
  async function retriedSend(fleet: ClusterFleet, user: FleetUser, conversationId: string, text: string): Promise<void> {
    const clientMsgId = crypto.randomUUID();
    const [g1, g2] = suite.cluster().gateways;
    for (const gateway of [g1!, g2!, g1!]) {
      await directApi(gateway.url, user.token).sendMessage({ conversationId, clientMsgId, text });
    }
    fleet.recordRawSend({ clientMsgId, conversationId, deviceId: user.directDeviceId });
  }

  test("every device ends with the same messages, each once, in one order with unbroken prev_seq chains", async () => {
    const cluster = suite.cluster();
    const fleet = await suite.openFleet(triangleFleet(1));
    // Delayed acks widen the window in which a cut loses the "sent" of a send already in the log,
    // so the outbox sends it again after the reconnect.
    for (const d of fleet.devices) d.proxy.setDelayMs(25);
    const [alice, bob] = fleet.users as [FleetUser, FleetUser];

    const traffic = startTraffic(fleet, { intervalMs: 10, max: 800, prefix: "z" });
    const cutting = new AbortController();
    const cuts = (async () => {
      for (let i = 0; !cutting.signal.aborted && i < 100; i++) {
        const device = fleet.devices[i % fleet.devices.length]!;
        device.proxy.setMode("down");
        await Bun.sleep(150 + (i % 3) * 100);
        device.proxy.setMode("pass");
        await Bun.sleep(200);
      }
    })();
    for (const c of fleet.conversations.slice(0, 2)) await retriedSend(fleet, c.userIds[0] === alice.userId ? alice : bob, c.conversationId, "retried-before");
    await Bun.sleep(1_500);

    const zombieGroup = `zombie_${crypto.randomUUID().slice(0, 8)}`;
    const zombie = await cluster.addWorker({ WORKER_GROUP: zombieGroup });
    for (const c of fleet.conversations.slice(0, 2)) await retriedSend(fleet, c.userIds[0] === alice.userId ? alice : bob, c.conversationId, "retried-during");
    await Bun.sleep(3_000);
    cutting.abort();
    const sent = await traffic.stop();
    await cuts;
    expect(sent).toBeGreaterThan(100);

    // The stale owner went through the whole log, concurrently with the owners for its last part.
    const topic = topicOf(cluster);
    await waitUntil(
      async () => {
        const p = await groupProgress(backends.kafka.brokers, topic, zombieGroup);
        return p.committed === p.end;
      },
      30_000,
      `${zombie.name} to process the whole topic`,
    );
    await expectFleetConsistent(fleet, cluster.gateways[0]!.url, { everySendAcked: true });
  }, 60_000);
});
