import { BackendUnavailableError } from "../../domain/index.ts";
import type { Clock, DeviceId, UserId } from "../../domain/index.ts";
import type { RouteEntry, RoutingTable } from "../routing-table.ts";

interface LiveRoute {
  readonly route: RouteEntry;
  expiresAtMs: number;
}

/** How often, at most, a write pays for a full sweep of expired routes. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * The embedded routing table: a device map plus a per-user index, with TTLs
 * measured on the injected clock. It is the product's default in single-process
 * mode, not a test double, and passes the same conformance suite as Redis.
 *
 * Expired routes are invisible at once and removed lazily: on the next access
 * to the device, or by a sweep that writes run at most every
 * SWEEP_INTERVAL_MS, so routes of devices that never return do not pile up.
 */
export function createMemoryRoutingTable(deps: { clock: Clock }): RoutingTable {
  const { clock } = deps;
  const byDevice = new Map<DeviceId, LiveRoute>();
  const devicesOfUser = new Map<UserId, Set<DeviceId>>();
  let nextSweepMs = clock.nowMs() + SWEEP_INTERVAL_MS;
  let closed = false;

  const isLive = (entry: LiveRoute, nowMs: number) => nowMs < entry.expiresAtMs;

  function remove(deviceId: DeviceId): void {
    const entry = byDevice.get(deviceId);
    if (entry === undefined) return;
    byDevice.delete(deviceId);
    const devices = devicesOfUser.get(entry.route.userId);
    devices?.delete(deviceId);
    if (devices?.size === 0) devicesOfUser.delete(entry.route.userId);
  }

  /** The device's route if still live; an expired one is dropped on the way. */
  function liveRoute(deviceId: DeviceId, nowMs: number): LiveRoute | undefined {
    const entry = byDevice.get(deviceId);
    if (entry === undefined) return undefined;
    if (isLive(entry, nowMs)) return entry;
    remove(deviceId);
    return undefined;
  }

  function put(route: RouteEntry, expiresAtMs: number): void {
    remove(route.deviceId);
    byDevice.set(route.deviceId, { route, expiresAtMs });
    let devices = devicesOfUser.get(route.userId);
    if (devices === undefined) devicesOfUser.set(route.userId, (devices = new Set()));
    devices.add(route.deviceId);
  }

  function sweepIfDue(nowMs: number): void {
    if (nowMs < nextSweepMs) return;
    nextSweepMs = nowMs + SWEEP_INTERVAL_MS;
    for (const [deviceId, entry] of byDevice) {
      if (!isLive(entry, nowMs)) remove(deviceId);
    }
  }

  function ensureOpen(): void {
    if (closed) throw new BackendUnavailableError("routing", "memory routing table is closed");
  }

  return {
    async register(route, ttlMs) {
      ensureOpen();
      const nowMs = clock.nowMs();
      sweepIfDue(nowMs);
      const previous = liveRoute(route.deviceId, nowMs)?.route;
      put(route, nowMs + ttlMs);
      return previous;
    },

    async refresh(routes, ttlMs) {
      ensureOpen();
      const nowMs = clock.nowMs();
      sweepIfDue(nowMs);
      const restored: RouteEntry[] = [];
      for (const route of routes) {
        const current = liveRoute(route.deviceId, nowMs);
        if (current === undefined) {
          // Same session still streaming after its route lapsed (a stalled
          // gateway): restore it so the device is reachable again.
          put(route, nowMs + ttlMs);
          restored.push(route);
        } else if (current.route.sessionId === route.sessionId) {
          current.expiresAtMs = nowMs + ttlMs;
        }
        // A different live session is newer: an old gateway must not take it back.
      }
      return restored;
    },

    async unregister(deviceId, sessionId) {
      ensureOpen();
      const current = liveRoute(deviceId, clock.nowMs());
      // Compare-and-delete: a late cleanup from an old session leaves the new route alone.
      if (current === undefined || current.route.sessionId !== sessionId) return false;
      remove(deviceId);
      return true;
    },

    async routesOf(userIds) {
      ensureOpen();
      const nowMs = clock.nowMs();
      const routes: RouteEntry[] = [];
      for (const userId of new Set(userIds)) {
        for (const deviceId of [...(devicesOfUser.get(userId) ?? [])]) {
          const entry = liveRoute(deviceId, nowMs);
          if (entry !== undefined) routes.push(entry.route);
        }
      }
      return routes;
    },

    async close() {
      closed = true;
      byDevice.clear();
      devicesOfUser.clear();
    },
  };
}
