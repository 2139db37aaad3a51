import type { Logger } from "pino";
import type { UserId } from "../domain/index.ts";
import type { PresenceChange, PresenceState } from "./presence-store.ts";

/** Receives presence states for the users a watcher looks at. */
export type PresenceDeliver = (states: readonly PresenceState[]) => void;

/**
 * The watcher side of presence on one gateway: who looks at whom, and the
 * changes waiting for the next batch. Used by the presence service, which
 * decides when to flush.
 */
export interface PresenceFanout {
  /** Replaces the watcher's set of watched users. */
  watch(watcherId: string, userIds: readonly UserId[], deliver: PresenceDeliver): void;
  unwatch(watcherId: string): void;
  /** Queues changes for the next flush: the latest per user, and only for users someone here watches. */
  offer(changes: readonly PresenceChange[]): void;
  /** Hands each watcher with pending changes exactly one batch holding all of them. */
  flush(): void;
}

interface Watcher {
  readonly userIds: ReadonlySet<UserId>;
  readonly deliver: PresenceDeliver;
}

/**
 * Creates a {@link PresenceFanout}. A reverse index (user -> watchers) keeps
 * the cost of a change proportional to the watchers of that user, not to all
 * watchers of the gateway (DESIGN §3, invariant 6).
 */
export function createPresenceFanout(deps: { logger: Logger }): PresenceFanout {
  const { logger } = deps;
  const watchers = new Map<string, Watcher>();
  const watchersOf = new Map<UserId, Set<string>>();
  // Coalesced per user: a burst of transitions inside one interval costs one delivery of its end state.
  let pending = new Map<UserId, PresenceState>();

  function unwatch(watcherId: string): void {
    const watcher = watchers.get(watcherId);
    if (watcher === undefined) return;
    watchers.delete(watcherId);
    for (const userId of watcher.userIds) {
      const ids = watchersOf.get(userId);
      ids?.delete(watcherId);
      if (ids?.size === 0) {
        watchersOf.delete(userId);
        pending.delete(userId);
      }
    }
  }

  return {
    watch(watcherId, userIds, deliver) {
      unwatch(watcherId);
      const watcher: Watcher = { userIds: new Set(userIds), deliver };
      watchers.set(watcherId, watcher);
      for (const userId of watcher.userIds) {
        let ids = watchersOf.get(userId);
        if (ids === undefined) watchersOf.set(userId, (ids = new Set()));
        ids.add(watcherId);
      }
    },

    unwatch,

    offer(changes) {
      for (const { userId, online, lastSeenMs } of changes) {
        if (!watchersOf.has(userId)) continue;
        pending.set(userId, { userId, online, lastSeenMs });
      }
    },

    flush() {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      const perWatcher = new Map<string, PresenceState[]>();
      for (const state of batch.values()) {
        for (const watcherId of watchersOf.get(state.userId) ?? []) {
          let states = perWatcher.get(watcherId);
          if (states === undefined) perWatcher.set(watcherId, (states = []));
          states.push(state);
        }
      }
      for (const [watcherId, states] of perWatcher) {
        // A delivery earlier in this loop may have unwatched this one.
        const watcher = watchers.get(watcherId);
        if (watcher === undefined) continue;
        try {
          watcher.deliver(states);
        } catch (err) {
          // One broken watcher must not starve the others of their batch.
          logger.error({ err, watcherId }, "presence watcher delivery failed");
        }
      }
    },
  };
}
