import { afterAll, beforeAll, expect } from "bun:test";
import { createPlainKafkaClient } from "../../log/kafka/index.ts";
import { asGatewayId, asUserId, systemClock } from "../../domain/index.ts";
import { createRedisPresenceStore } from "../../presence/redis/index.ts";
import { createRedisGatewayRegistry, createRedisRoutingTable, parseRedisUrl } from "../../routing/redis/index.ts";
import type { RealBackends } from "../../testkit/index.ts";
import { createClusterFleet, type ClusterFleet, type FleetDevice, type FleetSpec } from "./cluster-fleet.ts";
import { settleFleet, verifyFleet, violationsOf } from "./fleet-verdict.ts";
import { startTestCluster, type ClusterOptions, type ClusterProcess, type TestCluster } from "./test-cluster.ts";

/**
 * What the distributed fault tests share, so that each reads as its
 * scenario: the suite's cluster and fleets (started and removed around the
 * describe block), the usual fleet, background traffic, the checker's
 * verdict at the end; and small probes: polling with a bound, partition
 * ownership from the workers' logs and Kafka, routes in Redis.
 */

/** The servers a test cluster runs on. */
export type ClusterBackends = Required<Pick<RealBackends, "kafka" | "cassandra" | "redis">>;

/** The cluster of a fault suite, and the fleets its tests open on it. */
export interface FaultSuite {
  /** The suite's cluster (inside tests and hooks). */
  cluster(): TestCluster;
  /** Starts a fleet on the cluster's gateways (or on `gateways`); it is closed after the suite. */
  openFleet(spec: FleetSpec, gateways?: readonly ClusterProcess[]): Promise<ClusterFleet>;
}

/**
 * One test cluster for the enclosing describe block (beforeAll/afterAll):
 * it costs seconds to start. `backends` may be a function, read when the
 * cluster starts (a suite that starts a server of its own in an earlier
 * beforeAll). `beforeDestroy` runs first at the end (bring a backend a test
 * stopped back up), `afterDestroy` last.
 */
export function useFaultCluster(
  backends: ClusterBackends | (() => ClusterBackends),
  options: ClusterOptions,
  hooks: { readonly beforeDestroy?: () => Promise<void>; readonly afterDestroy?: () => Promise<void> } = {},
): FaultSuite {
  let cluster: TestCluster | undefined;
  const fleets: ClusterFleet[] = [];
  beforeAll(async () => {
    cluster = await startTestCluster(typeof backends === "function" ? backends() : backends, options);
  }, 90_000);
  afterAll(async () => {
    try {
      await hooks.beforeDestroy?.();
      for (const f of fleets) await f.close();
      await cluster?.destroy();
    } finally {
      await hooks.afterDestroy?.();
    }
  }, 90_000);
  const suite: FaultSuite = {
    cluster() {
      if (!cluster) throw new Error("the fault suite's cluster is not started (use it inside tests and hooks)");
      return cluster;
    },
    async openFleet(spec, gateways) {
      const fleet = await createClusterFleet(gateways ?? suite.cluster().gateways, spec);
      fleets.push(fleet);
      return fleet;
    },
  };
  return suite;
}

/**
 * The fleet most fault tests use: alice and bob with a bidi and a subscribe
 * device each, on different gateways, carol with one bidi device, and the
 * triangle of their conversations (alice-bob, bob-carol, carol-alice).
 */
export function triangleFleet(carolGateway: 0 | 1 = 0): FleetSpec {
  return {
    devices: [
      { user: "alice", gateway: 0, mode: "bidi" },
      { user: "alice", gateway: 1, mode: "subscribe" },
      { user: "bob", gateway: 1, mode: "bidi" },
      { user: "bob", gateway: 0, mode: "subscribe" },
      { user: "carol", gateway: carolGateway, mode: "bidi" },
    ],
    conversations: [
      ["alice", "bob"],
      ["bob", "carol"],
      ["carol", "alice"],
    ],
  };
}

/** `ClusterFleet.traffic` in the background; `stop()` ends it and resolves with how many messages it sent. */
export function startTraffic(fleet: ClusterFleet, opts: { intervalMs: number; max: number; prefix: string }): { stop(): Promise<number> } {
  const stopper = new AbortController();
  const sent = fleet.traffic(stopper.signal, opts);
  return {
    stop() {
      stopper.abort();
      return sent;
    },
  };
}

/**
 * The end of a fault test: waits (bounded) until the fleet has settled with
 * the server at `url`, then judges the whole run with the history checker
 * (DESIGN §3, invariants 1-5) and expects no violation; with
 * `everySendAcked`, also that every message composed got its "sent".
 */
export async function expectFleetConsistent(
  fleet: ClusterFleet,
  url: string,
  opts: { readonly settleMs?: number; readonly everySendAcked?: boolean } = {},
): Promise<void> {
  await settleFleet(fleet, () => url, opts.settleMs ?? 30_000);
  expect(violationsOf(await verifyFleet(fleet, url))).toEqual([]);
  if (opts.everySendAcked) expect(fleet.snapshot().sends.filter((s) => !s.sentAck)).toEqual([]);
}

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
  const admin = createPlainKafkaClient(brokers, "fault-tests").admin();
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
  const admin = createPlainKafkaClient(brokers, "fault-tests").admin();
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

/**
 * Route, registry and presence TTLs of 3 s, rewritten every second: a
 * cluster whose Redis lost its data rebuilds it within seconds.
 */
export const quickRedisRefresh: Readonly<Record<string, string>> = {
  ROUTE_TTL_MS: "3000",
  GATEWAY_REGISTRY_TTL_MS: "3000",
  PRESENCE_TTL_MS: "3000",
  PRESENCE_REFRESH_MS: "1000",
};

/**
 * What the cluster keeps in Redis about a fleet, read with the cluster's
 * prefix. Each probe answers false (never throws) while Redis is away.
 */
export interface Registration {
  /** Every device routed to the gateway its proxy forwards to. */
  routesComplete(): Promise<boolean>;
  /** Every gateway announced in the registry. */
  registryComplete(): Promise<boolean>;
  /** Every user of the fleet online. */
  allOnline(): Promise<boolean>;
  /** Waits (bounded) until all three hold. */
  waitComplete(what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function watchRegistration(cluster: TestCluster, fleet: ClusterFleet): Registration {
  const redisConfig = parseRedisUrl(cluster.env.REDIS_URL!);
  const registry = createRedisGatewayRegistry(redisConfig);
  const presence = createRedisPresenceStore(redisConfig, { clock: systemClock });
  const userIds = fleet.users.map((u) => asUserId(u.userId));
  const gatewayOf = (d: FleetDevice) => cluster.gateways.find((g) => g.port === d.proxy.target.port)?.name;
  const probe = (check: () => Promise<boolean>) => () => check().catch(() => false);
  const registration: Registration = {
    routesComplete: probe(async () => {
      const routes = await routedGateways(cluster, fleet.devices);
      return fleet.devices.every((d) => routes.get(d.deviceId) === gatewayOf(d));
    }),
    registryComplete: probe(async () =>
      (await Promise.all(cluster.gateways.map((g) => registry.lookup(asGatewayId(g.name))))).every((a) => a !== undefined),
    ),
    allOnline: probe(async () => [...(await presence.lookup(userIds)).values()].every((p) => p.online)),
    async waitComplete(what, timeoutMs = 10_000) {
      const complete = async () =>
        (await registration.routesComplete()) && (await registration.registryComplete()) && (await registration.allOnline());
      await waitUntil(complete, timeoutMs, what);
    },
    async close() {
      await registry.close();
      await presence.close();
    },
  };
  return registration;
}

/**
 * After Redis lost the cluster's data (a triangle fleet, see triangleFleet):
 * every route, registry entry and presence comes back within a few 1 s
 * refreshes (quickRedisRefresh), and pushes reach live devices again in two
 * conversations, without their streams reconnecting.
 */
export async function expectRecovered(fleet: ClusterFleet, registration: Registration, label: string): Promise<void> {
  await waitUntil(registration.routesComplete, 10_000, "every device's route to be rebuilt");
  await waitUntil(registration.registryComplete, 10_000, "every gateway to be announced again");
  await waitUntil(registration.allOnline, 10_000, "every user to be online again");
  const [alice0, alice1, bob0, carol0] = fleet.named("alice#0", "alice#1", "bob#0", "carol#0");
  const [abId, , caId] = fleet.conversations.map((c) => c.conversationId) as [string, string, string];
  await expectDeliveredLive(fleet, alice0, bob0, abId, `${label}-1`, 10_000);
  await expectDeliveredLive(fleet, carol0, alice1, caId, `${label}-2`, 10_000);
}
