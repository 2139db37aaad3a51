import type { Logger } from "pino";
import { BackendUnavailableError, sleepUnlessAborted } from "../domain/index.ts";
import type { Clock, GatewayId, UserId } from "../domain/index.ts";
import { createPresenceFanout } from "./presence-fanout.ts";
import type { PresenceDeliver } from "./presence-fanout.ts";
import type { PresenceChange, PresenceState, PresenceStore } from "./presence-store.ts";

export interface PresenceServiceConfig {
  readonly gatewayId: GatewayId;
  /** How long a user with no device left here still counts as online, so a reconnect is invisible. */
  readonly graceMs: number;
  /** TTL of this gateway's holds; a few refresh intervals, so one late heartbeat is harmless. */
  readonly holdTtlMs: number;
  /** Period of the gateway's single batched heartbeat write. */
  readonly refreshIntervalMs: number;
  /** Period of the batches: announcing joins, publishing transitions, delivering to watchers. */
  readonly fanoutIntervalMs: number;
}

export interface PresenceServiceDeps {
  readonly store: PresenceStore;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** One gateway's presence: its users' holds, the grace period, and its watchers (DESIGN §8). */
export interface PresenceService {
  deviceConnected(userId: UserId): void;
  /** After the last local device goes, the user goes offline only if none returns within graceMs. */
  deviceDisconnected(userId: UserId): void;
  /** Replaces the watcher's set and answers the current states; authorization is the caller's job. */
  watch(watcherId: string, userIds: readonly UserId[], deliver: PresenceDeliver): Promise<PresenceState[]>;
  unwatch(watcherId: string): void;
  lookup(userIds: readonly UserId[]): Promise<Map<UserId, PresenceState>>;
  /** Heartbeats and batches until aborted; on abort releases nothing (draining is the gateway's job). */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * Creates the presence service of one gateway (invariant 6, DESIGN §3):
 * - a flapping connection is invisible: the last device leaving starts a
 *   grace timer, and a reconnect inside it cancels the timer, so at most one
 *   transition per grace period becomes visible;
 * - heartbeats are one `store.refresh` per interval for every user held
 *   here, including those inside a grace period;
 * - newly held users are written and announced in one batch per fan-out
 *   interval, so "online" shows up without waiting for a heartbeat;
 * - transitions from every gateway arrive through the store and are
 *   coalesced per user and delivered only to the watchers of that user.
 */
export function createPresenceService(cfg: PresenceServiceConfig, deps: PresenceServiceDeps): PresenceService {
  const { store, clock } = deps;
  const logger = deps.logger.child({ component: "presence", gatewayId: cfg.gatewayId });
  const fanout = createPresenceFanout({ logger });
  const localDevices = new Map<UserId, number>();
  // Users with no device left here but still held: disjoint from localDevices.
  const graceTimers = new Map<UserId, ReturnType<typeof setTimeout>>();
  // Newly held users not yet written to the store; `announcing` while their batch is in flight.
  // Heartbeats skip both, or a heartbeat landing first would make the join's
  // "was the user offline?" lookup say online and the join would go unannounced.
  const joining = new Set<UserId>();
  const announcing = new Set<UserId>();
  // Our own transitions awaiting the next publish, coalesced per user.
  const outbound = new Map<UserId, PresenceChange>();
  let stopped = false;

  const isHeld = (userId: UserId) => localDevices.has(userId) || graceTimers.has(userId);

  async function endGrace(userId: UserId, disconnectedAtMs: number): Promise<void> {
    graceTimers.delete(userId);
    joining.delete(userId);
    let unheld: boolean;
    try {
      unheld = await store.release(cfg.gatewayId, userId, disconnectedAtMs);
    } catch (err) {
      logger.warn({ err, userId }, "presence release failed; the hold will lapse by TTL");
      return;
    }
    // A device that came back while the release was in flight is announced by its join instead.
    if (unheld && !isHeld(userId)) outbound.set(userId, { userId, online: false, lastSeenMs: disconnectedAtMs });
  }

  async function announceJoins(): Promise<void> {
    const userIds = [...joining].filter(isHeld);
    joining.clear();
    if (userIds.length === 0) return;
    userIds.forEach((userId) => announcing.add(userId));
    try {
      // Read before writing our hold: only a user nobody held is a visible transition.
      const before = await store.lookup(userIds);
      await store.refresh(cfg.gatewayId, userIds, cfg.holdTtlMs);
      for (const userId of userIds) {
        if (before.get(userId)?.online || !isHeld(userId)) continue;
        outbound.set(userId, { userId, online: true, lastSeenMs: clock.nowMs() });
      }
    } catch (err) {
      logger.warn({ err, users: userIds.length }, "presence join failed; retrying next batch");
      userIds.filter(isHeld).forEach((userId) => joining.add(userId));
    } finally {
      userIds.forEach((userId) => announcing.delete(userId));
    }
  }

  async function publishOutbound(): Promise<void> {
    if (outbound.size === 0) return;
    const changes = [...outbound.values()];
    outbound.clear();
    try {
      await store.publish(changes);
    } catch (err) {
      logger.warn({ err, changes: changes.length }, "presence publish failed");
      if (!(err instanceof BackendUnavailableError)) return;
      // Retry next batch unless a newer transition of the same user superseded it.
      for (const change of changes) if (!outbound.has(change.userId)) outbound.set(change.userId, change);
    }
  }

  async function heartbeat(): Promise<void> {
    const userIds = [...localDevices.keys(), ...graceTimers.keys()].filter(
      (userId) => !joining.has(userId) && !announcing.has(userId),
    );
    if (userIds.length === 0) return;
    try {
      await store.refresh(cfg.gatewayId, userIds, cfg.holdTtlMs);
    } catch (err) {
      logger.warn({ err, users: userIds.length }, "presence heartbeat failed");
    }
  }

  async function fanoutTick(): Promise<void> {
    await announceJoins();
    await publishOutbound();
    fanout.flush();
  }

  async function lookup(userIds: readonly UserId[]): Promise<Map<UserId, PresenceState>> {
    const states = await store.lookup(userIds);
    for (const userId of userIds) {
      // Held here but possibly not yet written (a pending join): this gateway knows better.
      if (isHeld(userId) && !states.get(userId)?.online) {
        states.set(userId, { userId, online: true, lastSeenMs: clock.nowMs() });
      }
      if (!states.has(userId)) states.set(userId, { userId, online: false, lastSeenMs: 0 });
    }
    return states;
  }

  return {
    deviceConnected(userId) {
      localDevices.set(userId, (localDevices.get(userId) ?? 0) + 1);
      const graceTimer = graceTimers.get(userId);
      if (graceTimer !== undefined) {
        // Back within the grace period: the store still holds the user, nobody saw a thing.
        clearTimeout(graceTimer);
        graceTimers.delete(userId);
        return;
      }
      if (localDevices.get(userId) === 1) joining.add(userId);
    },

    deviceDisconnected(userId) {
      const count = localDevices.get(userId);
      if (count === undefined) {
        logger.warn({ userId }, "presence disconnect without a matching connect");
        return;
      }
      if (count > 1) {
        localDevices.set(userId, count - 1);
        return;
      }
      localDevices.delete(userId);
      // After shutdown no timer is started: the gateway's drain or the hold TTL takes over.
      if (stopped) return;
      const disconnectedAtMs = clock.nowMs();
      graceTimers.set(
        userId,
        setTimeout(() => void endGrace(userId, disconnectedAtMs), cfg.graceMs),
      );
    },

    async watch(watcherId, userIds, deliver) {
      // Registered before the lookup: a change racing it is delivered afterwards rather than lost.
      fanout.watch(watcherId, userIds, deliver);
      const states = await lookup(userIds);
      return userIds.map((userId) => states.get(userId) ?? { userId, online: false, lastSeenMs: 0 });
    },

    unwatch: (watcherId) => fanout.unwatch(watcherId),

    lookup,

    async run(signal) {
      if (signal.aborted) return;
      const unsubscribe = store.subscribe((changes) => fanout.offer(changes));
      try {
        await Promise.all([
          every(cfg.refreshIntervalMs, signal, heartbeat, logger),
          every(cfg.fanoutIntervalMs, signal, fanoutTick, logger),
        ]);
      } finally {
        unsubscribe();
        stopped = true;
        for (const timer of graceTimers.values()) clearTimeout(timer);
        graceTimers.clear();
      }
    },
  };
}

/** Runs `task` every `intervalMs` until aborted; one at a time, so a slow backend never piles up calls. */
async function every(intervalMs: number, signal: AbortSignal, task: () => Promise<void>, logger: Logger) {
  while (!signal.aborted) {
    await sleepUnlessAborted(intervalMs, signal);
    if (signal.aborted) return;
    try {
      await task();
    } catch (err) {
      logger.error({ err }, "presence periodic task failed");
    }
  }
}
