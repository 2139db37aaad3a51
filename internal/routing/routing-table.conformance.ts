import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { asDeviceId, asGatewayId, asUserId } from "../domain/index.ts";
import type { DeviceId, UserId } from "../domain/index.ts";
import type { RouteEntry, RoutingTable } from "./routing-table.ts";

/**
 * What an adapter's test hands to {@link describeRoutingTable}.
 *
 * `advance` moves the adapter's notion of time forward: an embedded adapter
 * advances its injected manual clock; a Redis adapter, whose TTLs run on the
 * server's clock, sleeps for `ms`. The suite keeps TTLs short enough for the
 * sleeping kind and leaves wide margins, so neither depends on timing.
 */
export interface RoutingTableFixture {
  readonly table: RoutingTable;
  advance(ms: number): Promise<void>;
  /** Releases what `make` created; called after every case. */
  dispose(): Promise<void>;
}

/** TTL used by every case: short for the sleeping fixtures, wide enough against their jitter. */
const TTL_MS = 300;
/** Inside a TTL, yet two of them are past it: 100 ms of margin each way. */
const WITHIN_MS = 200;
/** Comfortably past a TTL. */
const PAST_MS = 450;

/**
 * The routing contract (internal/routing/routing-table.ts), run by every
 * adapter's test file. Ids are random per case, so adapters backed by a
 * shared server need no cleanup between cases.
 */
export function describeRoutingTable(name: string, make: () => Promise<RoutingTableFixture>): void {
  describe(`RoutingTable conformance: ${name}`, () => {
    let fx: RoutingTableFixture;
    let ids: ReturnType<typeof idSource>;
    beforeEach(async () => {
      fx = await make();
      ids = idSource();
    });
    afterEach(async () => {
      await fx.dispose();
    });

    test("register of a device without a route returns undefined", async () => {
      const route = ids.route("alice", "phone", "gw-1", "s1");
      expect(await fx.table.register(route, TTL_MS)).toBeUndefined();
      expect(await fx.table.routesOf([route.userId])).toEqual([route]);
    });

    test("register replaces the device's route and returns the previous one", async () => {
      const first = ids.route("alice", "phone", "gw-1", "s1");
      const second = ids.route("alice", "phone", "gw-2", "s2");
      await fx.table.register(first, TTL_MS);
      expect(await fx.table.register(second, TTL_MS)).toEqual(first);
      expect(await fx.table.routesOf([first.userId])).toEqual([second]);
    });

    test("routesOf returns the live routes of every device of every asked user, and only theirs", async () => {
      const routes = [
        ids.route("alice", "phone", "gw-1", "s1"),
        ids.route("alice", "laptop", "gw-2", "s2"),
        ids.route("bob", "phone", "gw-1", "s3"),
        ids.route("carol", "phone", "gw-3", "s4"),
      ];
      for (const r of routes) await fx.table.register(r, TTL_MS);
      const [alice, bob, carol] = [ids.user("alice"), ids.user("bob"), ids.user("carol")];

      const cases: Array<[UserId[], RouteEntry[]]> = [
        [[alice], routes.slice(0, 2)],
        [[alice, bob], routes.slice(0, 3)],
        [[carol, ids.user("dave")], routes.slice(3)],
        [[ids.user("dave")], []],
        [[], []],
      ];
      for (const [users, expected] of cases) {
        expect(sorted(await fx.table.routesOf(users))).toEqual(sorted(expected));
      }
    });

    test("a route expires ttlMs after its register", async () => {
      const route = ids.route("alice", "phone", "gw-1", "s1");
      await fx.table.register(route, TTL_MS);
      await fx.advance(PAST_MS);
      expect(await fx.table.routesOf([route.userId])).toEqual([]);
    });

    test("an expired route is not returned as the previous route of a new register", async () => {
      await fx.table.register(ids.route("alice", "phone", "gw-1", "s1"), TTL_MS);
      await fx.advance(PAST_MS);
      expect(await fx.table.register(ids.route("alice", "phone", "gw-2", "s2"), TTL_MS)).toBeUndefined();
    });

    test("refresh extends the TTL of every route it names", async () => {
      const refreshed = [ids.route("alice", "phone", "gw-1", "s1"), ids.route("bob", "phone", "gw-1", "s2")];
      const left = ids.route("carol", "phone", "gw-1", "s3");
      for (const r of [...refreshed, left]) await fx.table.register(r, TTL_MS);

      await fx.advance(WITHIN_MS);
      await fx.table.refresh(refreshed, TTL_MS);
      await fx.advance(WITHIN_MS);
      // Past the register's TTL, inside the refresh's.
      const users = [ids.user("alice"), ids.user("bob"), ids.user("carol")];
      expect(sorted(await fx.table.routesOf(users))).toEqual(sorted(refreshed));

      await fx.advance(PAST_MS);
      expect(await fx.table.routesOf(users)).toEqual([]);
    });

    test("refresh from an old session never replaces the route of a newer one", async () => {
      const old = ids.route("alice", "phone", "gw-1", "s1");
      const current = ids.route("alice", "phone", "gw-2", "s2");
      await fx.table.register(old, TTL_MS);
      await fx.table.register(current, TTL_MS);
      await fx.table.refresh([old], TTL_MS);
      expect(await fx.table.routesOf([old.userId])).toEqual([current]);
    });

    // A gateway stalled past the TTL still holds the stream; its next refresh
    // must make the device reachable again rather than leave it unroutable.
    test("refresh restores an expired route of the same session", async () => {
      const route = ids.route("alice", "phone", "gw-1", "s1");
      await fx.table.register(route, TTL_MS);
      await fx.advance(PAST_MS);
      await fx.table.refresh([route], TTL_MS);
      expect(await fx.table.routesOf([route.userId])).toEqual([route]);
    });

    test("refresh returns the routes it restored, and only those", async () => {
      const lapsed = ids.route("alice", "phone", "gw-1", "s1");
      const live = ids.route("bob", "phone", "gw-1", "s2");
      const stale = ids.route("carol", "phone", "gw-1", "s3");
      const newer = ids.route("carol", "phone", "gw-2", "s4");
      await fx.table.register(lapsed, TTL_MS);
      await fx.advance(PAST_MS);
      await fx.table.register(live, TTL_MS);
      await fx.table.register(stale, TTL_MS);
      await fx.table.register(newer, TTL_MS);
      expect(await fx.table.refresh([lapsed, live, stale], TTL_MS)).toEqual([lapsed]);
      expect(await fx.table.refresh([lapsed, live], TTL_MS)).toEqual([]);
    });

    test("unregister of the device's own session removes the route and returns true", async () => {
      const route = ids.route("alice", "phone", "gw-1", "s1");
      const other = ids.route("alice", "laptop", "gw-1", "s2");
      await fx.table.register(route, TTL_MS);
      await fx.table.register(other, TTL_MS);
      expect(await fx.table.unregister(route.deviceId, route.sessionId)).toBe(true);
      expect(await fx.table.routesOf([route.userId])).toEqual([other]);
    });

    test("unregister from an old session after a newer register returns false and keeps the new route", async () => {
      const old = ids.route("alice", "phone", "gw-1", "s1");
      const current = ids.route("alice", "phone", "gw-2", "s2");
      await fx.table.register(old, TTL_MS);
      await fx.table.register(current, TTL_MS);
      expect(await fx.table.unregister(old.deviceId, old.sessionId)).toBe(false);
      expect(await fx.table.routesOf([old.userId])).toEqual([current]);
    });

    test.each([
      ["a device that never registered", async (_t: RoutingTable, _r: RouteEntry) => {}],
      ["a route already unregistered", async (t: RoutingTable, r: RouteEntry) => {
        await t.register(r, TTL_MS);
        await t.unregister(r.deviceId, r.sessionId);
      }],
    ])("unregister of %s returns false", async (_label, arrange) => {
      const route = ids.route("alice", "phone", "gw-1", "s1");
      await arrange(fx.table, route);
      expect(await fx.table.unregister(route.deviceId, route.sessionId)).toBe(false);
    });

    test("unregister of an expired route returns false", async () => {
      const route = ids.route("alice", "phone", "gw-1", "s1");
      await fx.table.register(route, TTL_MS);
      await fx.advance(PAST_MS);
      expect(await fx.table.unregister(route.deviceId, route.sessionId)).toBe(false);
    });
  });
}

/** Per-case ids: readable labels plus a random suffix, so cases never collide on a shared backend. */
function idSource() {
  const suffix = crypto.randomUUID().slice(0, 8);
  const user = (label: string): UserId => asUserId(`${label}-${suffix}`);
  const device = (userLabel: string, label: string): DeviceId => asDeviceId(`${userLabel}-${label}-${suffix}`);
  return {
    user,
    route: (userLabel: string, deviceLabel: string, gateway: string, session: string): RouteEntry => ({
      deviceId: device(userLabel, deviceLabel),
      userId: user(userLabel),
      gatewayId: asGatewayId(gateway),
      sessionId: `${session}-${suffix}`,
    }),
  };
}

/** routesOf answers in any order. */
const sorted = (routes: readonly RouteEntry[]): RouteEntry[] =>
  [...routes].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
