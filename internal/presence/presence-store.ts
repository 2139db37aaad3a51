import type { GatewayId, UserId } from "../domain/index.ts";

export interface PresenceState {
  readonly userId: UserId;
  readonly online: boolean;
  /** Last time the user was known online (ms); 0 if never. */
  readonly lastSeenMs: number;
}

/** A visible presence transition, fanned out to watchers on every gateway. */
export interface PresenceChange {
  readonly userId: UserId;
  readonly online: boolean;
  readonly lastSeenMs: number;
}

/**
 * The presence port (DESIGN §8). Redis in production, in-process for the
 * embedded default. The grace period and watcher fan-out live above it in
 * internal/presence/presence-service.ts; this port only stores who is held
 * online by which gateway, and carries transitions between gateways.
 *
 * Contract (checked by describePresenceStore):
 * - A user is online while at least one gateway's hold on them is live; a
 *   hold lives `ttlMs` after the last `refresh` naming that gateway and user,
 *   so a dead gateway's users go offline by expiry.
 * - `refresh` is one batched write for all the users of a gateway.
 * - `release` drops one gateway's hold, records lastSeenMs, and says whether
 *   the user is now held by no gateway at all.
 * - `lookup` of an unknown user answers offline with lastSeenMs 0.
 * - `publish` delivers the changes, in order, to every current subscriber
 *   (including the publisher's own process).
 */
export interface PresenceStore {
  refresh(gatewayId: GatewayId, userIds: readonly UserId[], ttlMs: number): Promise<void>;
  release(gatewayId: GatewayId, userId: UserId, lastSeenMs: number): Promise<boolean>;
  lookup(userIds: readonly UserId[]): Promise<Map<UserId, PresenceState>>;
  publish(changes: readonly PresenceChange[]): Promise<void>;
  /** Registers a listener for published changes; returns the unsubscribe function. */
  subscribe(listener: (changes: readonly PresenceChange[]) => void): () => void;
  close(): Promise<void>;
}
