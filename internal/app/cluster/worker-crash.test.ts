import { beforeAll, expect, test } from "bun:test";
import { describeWithBackends } from "../../testkit/index.ts";
import type { FleetSpec } from "./cluster-fleet.ts";
import {
  assignedPartitions,
  expectFleetConsistent,
  partitionsWithRecords,
  startTraffic,
  topicOf,
  useFaultCluster,
  waitUntil,
} from "./fault-helpers.ts";
import type { ClusterProcess } from "./test-cluster.ts";

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
  const suite = useFaultCluster(backends, {
    gateways: 2,
    workers: 0,
    partitions: PARTITIONS,
    // The broker's minimum session timeout: a silent worker's partitions move after ~6 s.
    logParams: { sessionTimeoutMs: "6000", heartbeatIntervalMs: "500" },
  });
  /** The workers alive now (a test kills one and the next adds one). */
  let live: ClusterProcess[] = [];
  // Info logs tell which partitions each worker owns.
  const addWorker = () => suite.cluster().addWorker({ LOG_LEVEL: "info" });
  beforeAll(async () => {
    live = await Promise.all([addWorker(), addWorker()]);
  }, 60_000);

  const ownedByAll = () => live.flatMap((w) => assignedPartitions(w) ?? []);
  const balanced = () => ownedByAll().length === PARTITIONS && new Set(ownedByAll()).size === PARTITIONS && live.every((w) => assignedPartitions(w)?.length);

  /** Starts a fleet with traffic running, and picks a worker that owns a partition carrying some of it. */
  async function busyFleet(prefix: string) {
    await waitUntil(balanced, 30_000, "the live workers to share the partitions");
    const fleet = await suite.openFleet(spec);
    const traffic = startTraffic(fleet, { intervalMs: 15, max: 800, prefix });
    await Bun.sleep(1_500);
    // The victim must own a partition that carries traffic, or the test proves nothing.
    const busy = await partitionsWithRecords(backends.kafka.brokers, topicOf(suite.cluster()));
    const victim = live.find((w) => (assignedPartitions(w) ?? []).some((p) => busy.includes(p)));
    if (!victim) throw new Error(`no live worker owns a busy partition (${busy.join(",")})`);
    const others = live.filter((w) => w !== victim);
    const othersOwnAll = () => new Set(others.flatMap((w) => assignedPartitions(w) ?? [])).size === PARTITIONS;
    return { fleet, traffic, victim, others, othersOwnAll };
  }

  test("SIGKILL: its partitions move to the other worker; no message is lost, duplicated or reordered on any device", async () => {
    const { fleet, traffic, victim, others, othersOwnAll } = await busyFleet("k");
    victim.kill("SIGKILL");
    await victim.exited;
    live = others;
    await waitUntil(othersOwnAll, 30_000, "the other workers to own every partition");
    await Bun.sleep(1_000);
    expect(await traffic.stop()).toBeGreaterThan(50);
    await expectFleetConsistent(fleet, suite.cluster().gateways[0]!.url, { everySendAcked: true });
  }, 60_000);

  test("SIGSTOP past the session timeout: the frozen worker resumes as a stale owner of partitions that moved; still consistent", async () => {
    if (live.length < 2) live.push(await addWorker());
    const { fleet, traffic, victim, othersOwnAll } = await busyFleet("s");
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
    expect(await traffic.stop()).toBeGreaterThan(50);
    await expectFleetConsistent(fleet, suite.cluster().gateways[0]!.url, { everySendAcked: true });
  }, 60_000);
});
