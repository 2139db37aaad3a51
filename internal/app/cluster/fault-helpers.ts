import { Kafka, logLevel } from "kafkajs";
import { asUserId } from "../../domain/index.ts";
import { createRedisRoutingTable, parseRedisUrl } from "../../routing/redis/index.ts";
import type { ClusterFleet, FleetDevice } from "./cluster-fleet.ts";
import type { ClusterProcess, TestCluster } from "./test-cluster.ts";

/**
 * Small helpers shared by the distributed fault tests: polling with a
 * bound, and reading what the cluster's processes and Kafka say about
 * partition ownership.
 */

/** Polls `check` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let poll = 0; poll < 100_000; poll++) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** The partitions a worker (run with LOG_LEVEL=info) owns since its latest group join, or undefined. */
export function assignedPartitions(worker: ClusterProcess): number[] | undefined {
  let latest: number[] | undefined;
  for (const line of worker.output().split("\n")) {
    if (!line.includes('"kafka group joined"')) continue;
    try {
      const entry = JSON.parse(line) as { partitions?: number[] };
      latest = entry.partitions ?? [];
    } catch {
      // A line cut in the middle of a read: the next poll sees it whole.
    }
  }
  return latest;
}

/** The cluster's topic, from its LOG_URL. */
export function topicOf(cluster: TestCluster): string {
  return new URL(cluster.env.LOG_URL!.replace(/^kafka:/, "http:")).searchParams.get("topic")!;
}

/** Partitions of the cluster's topic that hold at least one record. */
export async function partitionsWithRecords(brokers: readonly string[], topic: string): Promise<number[]> {
  const admin = new Kafka({ brokers: [...brokers], clientId: "fault-tests", logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => o.partition);
  } finally {
    await admin.disconnect();
  }
}

/** How far a consumer group has committed, summed over partitions, and the topic's end. */
export async function groupProgress(brokers: readonly string[], topic: string, groupId: string): Promise<{ committed: number; end: number }> {
  const admin = new Kafka({ brokers: [...brokers], clientId: "fault-tests", logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = (group?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    return { committed, end: ends.reduce((sum, o) => sum + Number(o.high), 0) };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Sends `text` from one device and waits until another device holds it,
 * failing if the receiver reconnected meanwhile: the message then came by
 * live push, not by a catch-up.
 */
export async function expectDeliveredLive(
  fleet: ClusterFleet,
  from: FleetDevice,
  to: FleetDevice,
  conversationId: string,
  text: string,
  timeoutMs: number,
): Promise<void> {
  if (to.client.connectionState() !== "live") throw new Error(`${to.name} is ${to.client.connectionState()}, not live`);
  let reconnects = 0;
  const off = to.client.on((e) => {
    if (e.type === "connection" && e.state === "connecting") reconnects++;
  });
  try {
    await fleet.send(from, conversationId, text);
    const holds = () => to.client.messages(conversationId).some((m) => m.text === text && m.seq !== undefined);
    await to.client.waitFor(holds, timeoutMs, `${to.name} to receive "${text}"`);
  } finally {
    off();
  }
  if (reconnects > 0) throw new Error(`${to.name} reconnected ${reconnects} times before "${text}" arrived: not a live push`);
}

/** The gateway each device's route names right now (Redis, read with the cluster's prefix). */
export async function routedGateways(cluster: TestCluster, devices: readonly FleetDevice[]): Promise<Map<string, string>> {
  const routing = createRedisRoutingTable(parseRedisUrl(cluster.env.REDIS_URL!));
  try {
    const routes = await routing.routesOf([...new Set(devices.map((d) => asUserId(d.userId)))]);
    return new Map(routes.map((r) => [r.deviceId as string, r.gatewayId as string]));
  } finally {
    await routing.close();
  }
}
