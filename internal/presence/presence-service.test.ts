import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import pino from "pino";
import { asGatewayId, asUserId, createManualClock } from "../domain/index.ts";
import type { GatewayId, ManualClock, UserId } from "../domain/index.ts";
import { createMemoryPresenceStore } from "./memory/index.ts";
import { createPresenceService } from "./presence-service.ts";
import type { PresenceService, PresenceServiceConfig } from "./presence-service.ts";
import type { PresenceState, PresenceStore } from "./presence-store.ts";

// Timers are real (small intervals); the clock is manual and only stamps
// times, so lastSeen values are exact. Nothing here asserts a duration.
const GRACE_MS = 150;
const BASE_CONFIG = { graceMs: GRACE_MS, holdTtlMs: 60_000, refreshIntervalMs: 40, fanoutIntervalMs: 20 };
const WAIT_LIMIT_MS = 3_000;

const logger = pino({ level: "silent" });
const [alice, bob, carol, sentinel] = ["alice", "bob", "carol", "sentinel"].map(asUserId) as [
  UserId,
  UserId,
  UserId,
  UserId,
];

let clock: ManualClock;
let store: PresenceStore;
let stops: Array<() => Promise<void>>;

beforeEach(() => {
  clock = createManualClock(1_000_000);
  store = createMemoryPresenceStore({ clock });
  stops = [];
});

afterEach(async () => {
  await Promise.all(stops.map((stop) => stop()));
  await store.close();
});

/** Starts one gateway's service on the shared store; stopped after the case. */
function gateway(id: string, overrides: Partial<PresenceServiceConfig> = {}, on: PresenceStore = store) {
  const service = createPresenceService(
    { gatewayId: asGatewayId(id), ...BASE_CONFIG, ...overrides },
    { store: on, clock, logger },
  );
  const abort = new AbortController();
  const running = service.run(abort.signal);
  const stop = async () => {
    abort.abort();
    await running;
  };
  stops.push(stop);
  return { service, stop };
}

/** A watcher that records every batch it is handed. */
function inbox() {
  const calls: PresenceState[][] = [];
  return {
    calls,
    deliver: (states: readonly PresenceState[]) => void calls.push([...states]),
    states: () => calls.flat(),
    of: (userId: UserId) => calls.flat().filter((s) => s.userId === userId),
  };
}

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${WAIT_LIMIT_MS} ms`);
    await Bun.sleep(5);
  }
}

/**
 * Proves that nothing about `userId` reached the watcher: lets a few grace
 * periods pass, then sends a sentinel change that must arrive alone.
 */
async function expectSilenceAbout(userId: UserId, watcher: ReturnType<typeof inbox>): Promise<void> {
  const seen = watcher.of(userId).length;
  await Bun.sleep(GRACE_MS * 3);
  const sentinelsBefore = watcher.of(sentinel).length;
  await store.publish([{ userId: sentinel, online: true, lastSeenMs: clock.nowMs() }]);
  await waitUntil(() => watcher.of(sentinel).length > sentinelsBefore);
  expect(watcher.of(userId).length).toBe(seen);
}

/** Watches from a second gateway and waits until `userId` is seen online there. */
async function watchUntilOnline(watcherGateway: PresenceService, userId: UserId) {
  const watcher = inbox();
  const initial = await watcherGateway.watch("w", [userId, sentinel], watcher.deliver);
  if (!initial[0]?.online) await waitUntil(() => watcher.of(userId).some((s) => s.online));
  return watcher;
}

describe("presence service", () => {
  test("a first device announces the user online to watchers on other gateways", async () => {
    const a = gateway("gw-a");
    const b = gateway("gw-b");
    const watcher = inbox();
    expect(await b.service.watch("w", [alice], watcher.deliver)).toEqual([
      { userId: alice, online: false, lastSeenMs: 0 },
    ]);
    a.service.deviceConnected(alice);
    await waitUntil(() => watcher.calls.length > 0);
    expect(watcher.states()).toEqual([{ userId: alice, online: true, lastSeenMs: clock.nowMs() }]);
    expect((await store.lookup([alice])).get(alice)?.online).toBe(true);
  });

  test("a connection flapping inside the grace period publishes nothing", async () => {
    const a = gateway("gw-a");
    a.service.deviceConnected(alice);
    const watcher = await watchUntilOnline(gateway("gw-b").service, alice);
    for (let i = 0; i < 5; i++) {
      a.service.deviceDisconnected(alice);
      await Bun.sleep(GRACE_MS / 5);
      a.service.deviceConnected(alice);
    }
    await expectSilenceAbout(alice, watcher);
    expect((await store.lookup([alice])).get(alice)?.online).toBe(true);
  });

  test("the last device leaving publishes offline once, after the grace, with lastSeen at the disconnect", async () => {
    const a = gateway("gw-a");
    a.service.deviceConnected(alice);
    const watcher = await watchUntilOnline(gateway("gw-b").service, alice);
    const seenBefore = watcher.of(alice).length;
    clock.advance(5_000);
    const disconnectedAtMs = clock.nowMs();
    a.service.deviceDisconnected(alice);
    clock.advance(100); // time moves on during the grace; lastSeen must not follow it

    await waitUntil(() => watcher.of(alice).length > seenBefore);
    expect(watcher.of(alice).slice(seenBefore)).toEqual([{ userId: alice, online: false, lastSeenMs: disconnectedAtMs }]);
    expect((await store.lookup([alice])).get(alice)).toEqual({ userId: alice, online: false, lastSeenMs: disconnectedAtMs });
    await expectSilenceAbout(alice, watcher);
  });

  test("a user with two devices stays online until both have left", async () => {
    const a = gateway("gw-a");
    a.service.deviceConnected(alice);
    const watcher = await watchUntilOnline(gateway("gw-b").service, alice);
    a.service.deviceConnected(alice);
    a.service.deviceDisconnected(alice);
    await expectSilenceAbout(alice, watcher);

    a.service.deviceDisconnected(alice);
    await waitUntil(() => watcher.of(alice).some((s) => !s.online));
  });

  test("a user held by two gateways goes offline only after the last one's grace", async () => {
    const [a, b] = [gateway("gw-a"), gateway("gw-b")];
    a.service.deviceConnected(alice);
    b.service.deviceConnected(alice);
    const watcher = await watchUntilOnline(gateway("gw-c").service, alice);
    await Bun.sleep(BASE_CONFIG.fanoutIntervalMs * 3); // let the slower gateway's join land too

    a.service.deviceDisconnected(alice);
    await expectSilenceAbout(alice, watcher);
    expect((await store.lookup([alice])).get(alice)?.online).toBe(true);

    b.service.deviceDisconnected(alice);
    await waitUntil(() => watcher.of(alice).some((s) => !s.online));
  });

  test("a device returning after the grace expired is announced online again", async () => {
    const a = gateway("gw-a");
    a.service.deviceConnected(alice);
    const watcher = await watchUntilOnline(gateway("gw-b").service, alice);
    a.service.deviceDisconnected(alice);
    await waitUntil(() => watcher.of(alice).some((s) => !s.online));
    a.service.deviceConnected(alice);
    await waitUntil(() => watcher.of(alice).at(-1)?.online === true);
  });

  test("heartbeats are one refresh per interval naming every held user, grace periods included", async () => {
    const { store: counted, refreshes } = countingRefreshes(store);
    const users = Array.from({ length: 200 }, (_, i) => asUserId(`user-${i}`));
    const a = gateway("gw-a", { graceMs: 60_000 }, counted);
    users.forEach((userId) => a.service.deviceConnected(userId));
    a.service.deviceDisconnected(users[0]!); // inside its grace period for the whole case

    await waitUntil(() => refreshes.length >= 4);
    for (const call of refreshes) {
      expect(call.gatewayId).toBe(asGatewayId("gw-a"));
      expect([...call.userIds].sort()).toEqual([...users].sort());
    }
  });

  test("stopping releases nothing and stops heartbeats and grace timers", async () => {
    const { store: counted, refreshes } = countingRefreshes(store);
    const a = gateway("gw-a", {}, counted);
    a.service.deviceConnected(alice);
    const watcher = await watchUntilOnline(gateway("gw-b").service, alice);
    await waitUntil(() => refreshes.length >= 2);
    a.service.deviceDisconnected(alice);
    await a.stop();
    const refreshesAtStop = refreshes.length;

    await expectSilenceAbout(alice, watcher);
    expect((await store.lookup([alice])).get(alice)?.online).toBe(true);
    expect(refreshes.length).toBe(refreshesAtStop);
  });

  test("fan-out reaches only the watchers of the changed users, one batch per watcher", async () => {
    const b = gateway("gw-b");
    const [onlyAlice, onlyBob, both, neither] = [inbox(), inbox(), inbox(), inbox()];
    await b.service.watch("only-alice", [alice], onlyAlice.deliver);
    await b.service.watch("only-bob", [bob], onlyBob.deliver);
    await b.service.watch("both", [alice, bob], both.deliver);
    await b.service.watch("neither", [carol, sentinel], neither.deliver);

    const aliceOnline = { userId: alice, online: true, lastSeenMs: 1 };
    const bobOnline = { userId: bob, online: true, lastSeenMs: 2 };
    await store.publish([aliceOnline, bobOnline]);
    await waitUntil(() => [onlyAlice, onlyBob, both].every((w) => w.calls.length > 0));
    await expectSilenceAbout(carol, neither);

    expect(onlyAlice.calls).toEqual([[aliceOnline]]);
    expect(onlyBob.calls).toEqual([[bobOnline]]);
    expect(both.calls).toEqual([[aliceOnline, bobOnline]]);
    expect(neither.states().map((s) => s.userId)).toEqual([sentinel]);
  });

  test("transitions inside one fan-out interval are coalesced to the final state", async () => {
    const b = gateway("gw-b");
    const watcher = inbox();
    await b.service.watch("w", [alice, sentinel], watcher.deliver);
    const final = { userId: alice, online: true, lastSeenMs: 30 };
    // Not awaited one by one: all three land before the next flush can run.
    await Promise.all([
      store.publish([{ userId: alice, online: true, lastSeenMs: 10 }]),
      store.publish([{ userId: alice, online: false, lastSeenMs: 20 }]),
      store.publish([final]),
    ]);
    await waitUntil(() => watcher.calls.length > 0);
    await expectSilenceAbout(alice, watcher);
    expect(watcher.of(alice)).toEqual([final]);
  });

  test("watch replaces the watcher's set and unwatch ends delivery", async () => {
    const b = gateway("gw-b");
    const watcher = inbox();
    await b.service.watch("w", [alice], watcher.deliver);
    expect(await b.service.watch("w", [bob, sentinel], watcher.deliver)).toEqual([
      { userId: bob, online: false, lastSeenMs: 0 },
      { userId: sentinel, online: false, lastSeenMs: 0 },
    ]);
    await store.publish([{ userId: alice, online: true, lastSeenMs: 1 }]);
    await expectSilenceAbout(alice, watcher);

    b.service.unwatch("w");
    const other = inbox();
    await b.service.watch("other", [bob], other.deliver);
    await store.publish([{ userId: bob, online: true, lastSeenMs: 1 }]);
    // Both watchers would be served by the same flush.
    await waitUntil(() => other.calls.length > 0);
    expect(watcher.of(bob)).toEqual([]);
  });

  test("lookup answers online for a user held here before the join is written", async () => {
    const a = createPresenceService({ gatewayId: asGatewayId("gw-a"), ...BASE_CONFIG }, { store, clock, logger });
    a.deviceConnected(alice);
    const states = await a.lookup([alice, bob]);
    expect(states.get(alice)?.online).toBe(true);
    expect(states.get(bob)).toEqual({ userId: bob, online: false, lastSeenMs: 0 });
  });
});

/** The real store, with its refresh calls recorded on the way through (not a mock: the store still runs). */
function countingRefreshes(inner: PresenceStore) {
  const refreshes: Array<{ gatewayId: GatewayId; userIds: readonly UserId[] }> = [];
  const store: PresenceStore = {
    ...inner,
    refresh: (gatewayId, userIds, ttlMs) => {
      refreshes.push({ gatewayId, userIds: [...userIds] });
      return inner.refresh(gatewayId, userIds, ttlMs);
    },
  };
  return { store, refreshes };
}
