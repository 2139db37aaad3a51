import type { DeviceId, GatewayId, UserId } from "../domain/index.ts";

/** Where a device's live stream is: which gateway, which session (stream) of it. */
export interface RouteEntry {
  readonly deviceId: DeviceId;
  readonly userId: UserId;
  readonly gatewayId: GatewayId;
  /** Unique per stream; a reconnect always gets a new one. */
  readonly sessionId: string;
}

/**
 * The routing port: device -> (gateway, session), with TTL (DESIGN §6).
 * Redis in production, in-process for the embedded default.
 *
 * Contract (checked by describeRoutingTable):
 * - `register` replaces any previous route of the device and returns it.
 * - Routes expire `ttlMs` after their last register/refresh.
 * - `refresh` re-arms routes whose session is still current, restores a
 *   lapsed route of the same session (expired, or lost with the backend's
 *   data), never overwrites a newer session's route, and returns the routes it
 *   restored: pushes to those devices may have been lost meanwhile.
 * - `unregister` is compare-and-delete on the session: a late cleanup from an
 *   old session never erases the route of a newer one.
 * - `routesOf` returns the live routes of the users' devices (any order).
 */
export interface RoutingTable {
  register(route: RouteEntry, ttlMs: number): Promise<RouteEntry | undefined>;
  /** Re-arms the TTL of many routes in one batched write (per gateway tick); returns the restored ones. */
  refresh(routes: readonly RouteEntry[], ttlMs: number): Promise<RouteEntry[]>;
  unregister(deviceId: DeviceId, sessionId: string): Promise<boolean>;
  routesOf(userIds: readonly UserId[]): Promise<RouteEntry[]>;
  close(): Promise<void>;
}
