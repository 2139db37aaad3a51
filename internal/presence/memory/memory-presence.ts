import { BackendUnavailableError } from "../../domain/index.ts";
import type { Clock, GatewayId, UserId } from "../../domain/index.ts";
import type { PresenceChange, PresenceState, PresenceStore } from "../presence-store.ts";

/** One gateway's hold on one user. */
interface Hold {
  refreshedAtMs: number;
  expiresAtMs: number;
}

type Listener = (changes: readonly PresenceChange[]) => void;

/** How often, at most, a refresh pays for a full sweep of lapsed holds. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * The embedded presence store: per-user holds keyed by gateway, TTLs on the
 * injected clock, and an in-process fan-out of published changes. It is the
 * product's default in single-process mode and passes the same conformance
 * suite as Redis.
 *
 * A lapsed hold still tells when the user was last known online (its last
 * refresh), so its time moves into lastSeen when it is dropped.
 *
 * Listeners run synchronously inside `publish`, in subscription order. A
 * listener that throws does not stop delivery to the others; the first such
 * error is rethrown from `publish` once every listener has run, so the bug
 * surfaces instead of vanishing.
 */
export function createMemoryPresenceStore(deps: { clock: Clock }): PresenceStore {
  const { clock } = deps;
  const holds = new Map<UserId, Map<GatewayId, Hold>>();
  const lastSeen = new Map<UserId, number>();
  const listeners = new Set<Listener>();
  let nextSweepMs = clock.nowMs() + SWEEP_INTERVAL_MS;
  let closed = false;

  function recordLastSeen(userId: UserId, atMs: number): void {
    // Never backwards: a late release carrying an older time must not hide a newer one.
    if (atMs > (lastSeen.get(userId) ?? 0)) lastSeen.set(userId, atMs);
  }

  /** The user's live holds, after dropping (and remembering) the lapsed ones. */
  function liveHolds(userId: UserId, nowMs: number): Map<GatewayId, Hold> | undefined {
    const byGateway = holds.get(userId);
    if (byGateway === undefined) return undefined;
    for (const [gatewayId, hold] of byGateway) {
      if (nowMs < hold.expiresAtMs) continue;
      recordLastSeen(userId, hold.refreshedAtMs);
      byGateway.delete(gatewayId);
    }
    if (byGateway.size > 0) return byGateway;
    holds.delete(userId);
    return undefined;
  }

  function sweepIfDue(nowMs: number): void {
    if (nowMs < nextSweepMs) return;
    nextSweepMs = nowMs + SWEEP_INTERVAL_MS;
    for (const userId of [...holds.keys()]) liveHolds(userId, nowMs);
  }

  function stateOf(userId: UserId, nowMs: number): PresenceState {
    const live = liveHolds(userId, nowMs);
    if (live === undefined) return { userId, online: false, lastSeenMs: lastSeen.get(userId) ?? 0 };
    let latestMs = 0;
    for (const hold of live.values()) latestMs = Math.max(latestMs, hold.refreshedAtMs);
    return { userId, online: true, lastSeenMs: latestMs };
  }

  function ensureOpen(): void {
    if (closed) throw new BackendUnavailableError("presence", "memory presence store is closed");
  }

  return {
    async refresh(gatewayId, userIds, ttlMs) {
      ensureOpen();
      const nowMs = clock.nowMs();
      sweepIfDue(nowMs);
      for (const userId of userIds) {
        let byGateway = holds.get(userId);
        if (byGateway === undefined) holds.set(userId, (byGateway = new Map()));
        byGateway.set(gatewayId, { refreshedAtMs: nowMs, expiresAtMs: nowMs + ttlMs });
      }
    },

    async release(gatewayId, userId, lastSeenMs) {
      ensureOpen();
      const nowMs = clock.nowMs();
      liveHolds(userId, nowMs)?.delete(gatewayId);
      recordLastSeen(userId, lastSeenMs);
      // Read again: this also drops the user's entry when that was the last hold.
      return liveHolds(userId, nowMs) === undefined;
    },

    async lookup(userIds) {
      ensureOpen();
      const nowMs = clock.nowMs();
      return new Map(userIds.map((userId) => [userId, stateOf(userId, nowMs)] as const));
    },

    async publish(changes) {
      ensureOpen();
      // Listeners get their own frozen copy: the publisher may reuse its array.
      const batch = Object.freeze(changes.map((c) => Object.freeze({ ...c })));
      let firstError: unknown;
      for (const listener of [...listeners]) {
        // A listener unsubscribed by an earlier one in this loop gets nothing more.
        if (!listeners.has(listener)) continue;
        try {
          listener(batch);
        } catch (err) {
          firstError ??= err;
        }
      }
      if (firstError !== undefined) throw firstError;
    },

    subscribe(listener) {
      // Wrapped so the same function subscribed twice gets two independent subscriptions.
      const entry: Listener = (changes) => listener(changes);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },

    async close() {
      closed = true;
      holds.clear();
      lastSeen.clear();
      listeners.clear();
    },
  };
}
