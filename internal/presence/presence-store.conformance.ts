import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { asGatewayId, asUserId } from "../domain/index.ts";
import type { Clock, UserId } from "../domain/index.ts";
import type { PresenceChange, PresenceStore } from "./presence-store.ts";

/**
 * What an adapter's test hands to {@link describePresenceStore}.
 *
 * `clock` is the clock the adapter was built with (the suite reads it around
 * a refresh to know the time the adapter recorded). `advance` moves that
 * clock forward: a manual clock for the embedded adapter, a real sleep for
 * Redis, whose TTLs run on the server.
 */
export interface PresenceStoreFixture {
  readonly store: PresenceStore;
  readonly clock: Clock;
  advance(ms: number): Promise<void>;
  /** Releases what `make` created; called after every case. */
  dispose(): Promise<void>;
}

/** Hold TTL used by every case: short for the sleeping fixtures, wide against their jitter. */
const TTL_MS = 300;
const WITHIN_MS = 200;
const PAST_MS = 450;
/** Bound on waiting for published changes to arrive through a networked backend. */
const DELIVERY_WAIT_MS = 2_000;

/**
 * The presence-store contract (internal/presence/presence-store.ts), run by
 * every adapter's test file. User ids are random per case and received
 * changes are filtered to them, so a shared backend (and its shared pub/sub
 * channel) needs no cleanup between cases.
 */
export function describePresenceStore(name: string, make: () => Promise<PresenceStoreFixture>): void {
  describe(`PresenceStore conformance: ${name}`, () => {
    let fx: PresenceStoreFixture;
    let user: (label: string) => UserId;
    const gw1 = asGatewayId("gw-1");
    const gw2 = asGatewayId("gw-2");
    beforeEach(async () => {
      fx = await make();
      const suffix = crypto.randomUUID().slice(0, 8);
      user = (label) => asUserId(`${label}-${suffix}`);
    });
    afterEach(async () => {
      await fx.dispose();
    });

    const stateOf = async (userId: UserId) => {
      const state = (await fx.store.lookup([userId])).get(userId);
      expect(state).toBeDefined();
      return state!;
    };

    test("lookup of an unknown user answers offline with lastSeenMs 0", async () => {
      const ghost = user("ghost");
      expect(await stateOf(ghost)).toEqual({ userId: ghost, online: false, lastSeenMs: 0 });
    });

    test("refresh makes every named user online, and lookup answers for every asked user", async () => {
      const [alice, bob, carol] = [user("alice"), user("bob"), user("carol")];
      await fx.store.refresh(gw1, [alice, bob], TTL_MS);
      const states = await fx.store.lookup([alice, bob, carol]);
      expect([...states.keys()].sort()).toEqual([alice, bob, carol].sort());
      expect([alice, bob, carol].map((u) => states.get(u)?.online)).toEqual([true, true, false]);
    });

    test("release by the only holding gateway returns true and records lastSeenMs", async () => {
      const alice = user("alice");
      await fx.store.refresh(gw1, [alice], TTL_MS);
      expect(await fx.store.release(gw1, alice, 1_234_567)).toBe(true);
      expect(await stateOf(alice)).toEqual({ userId: alice, online: false, lastSeenMs: 1_234_567 });
    });

    test("a user held by two gateways stays online until both release", async () => {
      const alice = user("alice");
      await fx.store.refresh(gw1, [alice], TTL_MS);
      await fx.store.refresh(gw2, [alice], TTL_MS);

      expect(await fx.store.release(gw1, alice, 1_000)).toBe(false);
      expect((await stateOf(alice)).online).toBe(true);

      expect(await fx.store.release(gw2, alice, 2_000)).toBe(true);
      expect(await stateOf(alice)).toEqual({ userId: alice, online: false, lastSeenMs: 2_000 });
    });

    test("a hold expires ttlMs after its last refresh; lastSeenMs is that refresh's time", async () => {
      const alice = user("alice");
      await fx.store.refresh(gw1, [alice], TTL_MS);
      await fx.advance(WITHIN_MS);
      const beforeMs = fx.clock.nowMs();
      await fx.store.refresh(gw1, [alice], TTL_MS);
      const afterMs = fx.clock.nowMs();

      await fx.advance(WITHIN_MS);
      expect((await stateOf(alice)).online).toBe(true);

      await fx.advance(PAST_MS);
      const state = await stateOf(alice);
      expect(state.online).toBe(false);
      expect(state.lastSeenMs).toBeGreaterThanOrEqual(beforeMs);
      expect(state.lastSeenMs).toBeLessThanOrEqual(afterMs);
    });

    test("holds are per gateway: one gateway's expiry leaves a user another gateway refreshes", async () => {
      const alice = user("alice");
      await fx.store.refresh(gw1, [alice], TTL_MS);
      await fx.advance(WITHIN_MS);
      await fx.store.refresh(gw2, [alice], TTL_MS);
      await fx.advance(WITHIN_MS);
      expect((await stateOf(alice)).online).toBe(true);
      // gw1's hold has lapsed, so gw2 is the last holder.
      expect(await fx.store.release(gw2, alice, 5_000)).toBe(true);
    });

    test("publish delivers every batch, in order, to every subscriber", async () => {
      const [alice, bob] = [user("alice"), user("bob")];
      const mine = new Set([alice, bob]);
      const inboxes = [collector(mine), collector(mine)];
      const unsubscribes = inboxes.map((inbox) => fx.store.subscribe(inbox.listener));
      const batches: PresenceChange[][] = [
        [{ userId: alice, online: true, lastSeenMs: 0 }],
        [
          { userId: bob, online: true, lastSeenMs: 0 },
          { userId: alice, online: false, lastSeenMs: 10 },
        ],
        [{ userId: alice, online: true, lastSeenMs: 10 }],
      ];
      for (const batch of batches) await fx.store.publish(batch);

      for (const inbox of inboxes) {
        await waitUntil(() => inbox.changes.length >= 4);
        expect(inbox.changes).toEqual(batches.flat());
      }
      unsubscribes.forEach((unsubscribe) => unsubscribe());
    });

    test("unsubscribe stops delivery to that listener only", async () => {
      const [alice, marker] = [user("alice"), user("marker")];
      const mine = new Set([alice, marker]);
      const [gone, staying] = [collector(mine), collector(mine)];
      const unsubscribeGone = fx.store.subscribe(gone.listener);
      const unsubscribeStaying = fx.store.subscribe(staying.listener);
      unsubscribeGone();

      await fx.store.publish([{ userId: alice, online: true, lastSeenMs: 0 }]);
      // Changes arrive in order, so once the marker reached the staying listener
      // anything meant for the gone one would have arrived too.
      await fx.store.publish([{ userId: marker, online: true, lastSeenMs: 0 }]);
      await waitUntil(() => staying.changes.some((c) => c.userId === marker));

      expect(gone.changes).toEqual([]);
      expect(staying.changes.map((c) => c.userId)).toEqual([alice, marker]);
      unsubscribeStaying();
    });
  });
}

/** Collects published changes about the case's own users (a shared channel may carry others). */
function collector(users: ReadonlySet<UserId>) {
  const changes: PresenceChange[] = [];
  return {
    changes,
    listener: (batch: readonly PresenceChange[]) => {
      changes.push(...batch.filter((c) => users.has(c.userId)));
    },
  };
}

/** Waits, bounded, for a condition that a networked backend makes true asynchronously. */
async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + DELIVERY_WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${DELIVERY_WAIT_MS} ms`);
    await Bun.sleep(5);
  }
}
