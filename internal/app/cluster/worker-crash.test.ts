import { afterAll, beforeAll, expect, test } from "bun:test";
import { describeWithBackends } from "../../testkit/index.ts";
import { createClusterFleet, type ClusterFleet, type FleetSpec } from "./cluster-fleet.ts";
import { assignedPartitions, partitionsWithRecords, topicOf, waitUntil } from "./fault-helpers.ts";
import { settleFleet, verifyFleet, violationsOf } from "./fleet-verdict.ts";
import { startTestCluster, type ClusterProcess, type TestCluster } from "./test-cluster.ts";

const PARTITIONS = 6;

const spec: FleetSpec = {
  devices: [
    { user: "alice", gateway: 0, mode: "bidi" },
    { user: "alice", gateway: 1, mode: "subscribe" },
    { user: "bob", gateway: 1, mode: "bidi" },
    { user: "bob", gateway: 0, mode: "subscribe" },
    { user: "carol", gateway: 0, mode: "bidi" },
    { user: "dave", gateway: 1, mode: "bidi" },
  ],
  // Six conversations over six partitions: both workers carry traffic.
  conversations: [
    ["alice", "bob"],
    ["bob", "carol"],
    ["carol", "alice"],
    ["dave", "alice"],
    ["dave", "bob"],
    ["carol", "dave"],
  ],
};

describeWithBackends("worker crash and freeze mid-traffic", ["kafka", "cassandra", "redis"], (backends) => {
  let cluster: TestCluster;
  /** The workers alive now (a test kills one and the next adds one). */
  let live: ClusterProcess[] = [];
  const fleets: ClusterFleet[] = [];
  beforeAll(async () => {
    cluster = await startTestCluster(backends, {
      gateways: 2,
      workers: 0,
      partitions: PARTITIONS,
      // The broker's minimum session timeout: a silent worker's partitions move after ~6 s.
      logParams: { sessionTimeoutMs: "6000", heartbeatIntervalMs: "500" },
    });
    // Info logs tell which partitions each worker owns.
    live = await Promise.all([cluster.addWorker({ LOG_LEVEL: "info" }), cluster.addWorker({ LOG_LEVEL: "info" })]);
  }, 90_000);
  afterAll(async () => {
    for (const f of fleets) await f.close();
    await cluster?.destroy();
  }, 60_000);

  const ownedByAll = () => live.flatMap((w) => assignedPartitions(w) ?? []);
  const balanced = () => ownedByAll().length === PARTITIONS && new Set(ownedByAll()).size === PARTITIONS && live.every((w) => assignedPartitions(w)?.length);

  /** Starts a fleet with traffic running, and picks a worker that owns a partition carrying some of it. */
  async function busyFleet(prefix: string) {
    await waitUntil(balanced, 30_000, "the live workers to share the partitions");
    const fleet = await createClusterFleet(cluster.gateways, spec);
    fleets.push(fleet);
    const stop = new AbortController();
    const traffic = fleet.traffic(stop.signal, { intervalMs: 15, max: 800, prefix });
    await Bun.sleep(1_500);
    // The victim must own a partition that carries traffic, or the test proves nothing.
    const busy = await partitionsWithRecords(backends.kafka.brokers, topicOf(cluster));
    const victim = live.find((w) => (assignedPartitions(w) ?? []).some((p) => busy.includes(p)));
    if (!victim) throw new Error(`no live worker owns a busy partition (${busy.join(",")})`);
    const others = live.filter((w) => w !== victim);
    const othersOwnAll = () => new Set(others.flatMap((w) => assignedPartitions(w) ?? [])).size === PARTITIONS;
    return { fleet, stop, traffic, victim, others, othersOwnAll };
  }

  async function expectConsistent(fleet: ClusterFleet, sent: number): Promise<void> {
    expect(sent).toBeGreaterThan(50);
    await settleFleet(fleet, () => cluster.gateways[0]!.url, 30_000);
    expect(violationsOf(await verifyFleet(fleet, cluster.gateways[0]!.url))).toEqual([]);
    expect(fleet.snapshot().sends.filter((s) => s.sentAck)).toHaveLength(sent);
  }

  test("SIGKILL: its partitions move to the other worker; no message is lost, duplicated or reordered on any device", async () => {
    const { fleet, stop, traffic, victim, others, othersOwnAll } = await busyFleet("k");
    victim.kill("SIGKILL");
    await victim.exited;
    live = others;
    await waitUntil(othersOwnAll, 30_000, "the other workers to own every partition");
    await Bun.sleep(1_000);
    stop.abort();
    await expectConsistent(fleet, await traffic);
  }, 60_000);

  test("SIGSTOP past the session timeout: the frozen worker resumes as a stale owner of partitions that moved; still consistent", async () => {
    if (live.length < 2) live.push(await cluster.addWorker({ LOG_LEVEL: "info" }));
    const { fleet, stop, traffic, victim, othersOwnAll } = await busyFleet("s");
    const joinsBefore = victim.output().split('"kafka group joined"').length;
    victim.kill("SIGSTOP");
    try {
      await waitUntil(othersOwnAll, 30_000, "the other workers to own every partition");
    } finally {
      victim.kill("SIGCONT");
    }
    // It wakes up in the middle of whatever it was doing, finds its generation over, and rejoins.
    await waitUntil(() => victim.output().split('"kafka group joined"').length > joinsBefore, 30_000, `${victim.name} to rejoin the group`);
    await Bun.sleep(1_000);
    stop.abort();
    await expectConsistent(fleet, await traffic);
  }, 60_000);
});
