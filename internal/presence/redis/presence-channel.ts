import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { BackendUnavailableError, asUserId } from "../../domain/index.ts";
import { COMMAND_TIMEOUT_MS, closeRedisClient, openRedisClient, toBackendError } from "../../routing/redis/index.ts";
import type { RedisConfig } from "../../routing/redis/index.ts";
import type { PresenceChange } from "../presence-store.ts";

type Listener = (changes: readonly PresenceChange[]) => void;

/** The publish/subscribe half of the Redis presence store. */
export interface PresenceChannel {
  publish(changes: readonly PresenceChange[]): Promise<void>;
  subscribe(listener: Listener): () => void;
  close(): Promise<void>;
}

/**
 * Presence transitions across processes over one Redis pub/sub channel.
 *
 * Every process that subscribed, the publisher's included, receives its
 * changes back through its own subscriber connection (a connection in
 * subscriber mode can run no other command, hence a dedicated one, opened by
 * the first subscribe). Redis delivers one publisher's
 * messages in order, and ioredis emits them in order, so local listeners see
 * batches in publish order. A batch travels as one message: a JSON array of
 * `[userId, online, lastSeenMs]` tuples.
 *
 * Pub/sub is at-most-once: batches published while this process's
 * subscriber is reconnecting are not replayed. Presence tolerates it (the
 * next transition, or a lookup, corrects the view).
 */
export function createPresenceChannel(
  cfg: RedisConfig & { readonly channel: string },
  deps: { publisher: Redis; logger: Logger },
): PresenceChannel {
  const { publisher, logger } = deps;
  const listeners = new Set<Listener>();
  let closed = false;
  /**
   * Opened by the first subscribe: a process that only publishes and looks up
   * (a worker holds a presence store but watches nobody) keeps no subscriber
   * connection and decodes none of the cluster's presence traffic.
   */
  let subscription: Subscription | undefined;

  function openSubscription(): Subscription {
    const subscriber = openRedisClient(cfg, { logger, role: "presence-subscriber" });
    subscriber.on("message", (channel: string, message: string) => {
      if (channel === cfg.channel && !closed) deliver(message);
    });
    const opened: Subscription = { subscriber, subscribed: Promise.resolve() }; // the first attempt, next line
    opened.subscribed = subscribeWhenReady(opened);
    return opened;
  }

  // SUBSCRIBE goes out only once the connection is ready: issued during the
  // handshake it can interleave with ioredis's own setup commands (ioredis
  // issue #2037). After a reconnect ioredis restores the subscription itself.
  function subscribeWhenReady(sub: Subscription): Promise<void> {
    const { subscriber } = sub;
    const attempt = new Promise<void>((resolve, reject) => {
      const send = () => void subscriber.subscribe(cfg.channel).then(() => resolve(), reject);
      if (subscriber.status === "ready") send();
      else subscriber.once("ready", send);
    });
    // ioredis restores only subscriptions that succeeded: arm a new attempt.
    attempt.catch(() => {
      if (!closed) sub.subscribed = subscribeWhenReady(sub);
    });
    return attempt;
  }

  /**
   * Waits for our SUBSCRIBE: a publish must not overtake it while someone
   * here listens. Bounded, and cut short when the subscriber's connection
   * fails (ioredis then moves to "reconnecting"), so a dead server surfaces
   * at once.
   */
  function awaitSubscribed({ subscriber, subscribed }: Subscription): Promise<void> {
    if (subscriber.status === "reconnecting" || subscriber.status === "end") {
      return Promise.reject(new BackendUnavailableError("redis", `presence subscriber is ${subscriber.status}`));
    }
    return new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        cleanup();
        reject(new BackendUnavailableError("redis", why));
      };
      const onDown = () => fail(`presence subscriber is ${subscriber.status}`);
      const onTimeout = () => fail(`presence subscriber not ready within ${COMMAND_TIMEOUT_MS} ms`);
      const timer = setTimeout(onTimeout, COMMAND_TIMEOUT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        subscriber.off("reconnecting", onDown).off("end", onDown);
      };
      subscriber.once("reconnecting", onDown).once("end", onDown);
      subscribed.then(
        () => {
          cleanup();
          resolve();
        },
        (err: unknown) => {
          cleanup();
          reject(err);
        },
      );
    });
  }

  function deliver(message: string): void {
    const batch = decodeBatch(message);
    if (batch === undefined) {
      logger.warn({ channel: cfg.channel, bytes: message.length }, "malformed presence batch dropped");
      return;
    }
    for (const listener of [...listeners]) {
      // A listener unsubscribed by an earlier one in this loop gets nothing more.
      if (!listeners.has(listener)) continue;
      try {
        listener(batch);
      } catch (err) {
        // The publisher is another process (or long gone): the bug can only be logged.
        logger.error({ err }, "presence listener failed");
      }
    }
  }

  return {
    async publish(changes) {
      if (closed) throw new BackendUnavailableError("redis", "redis presence store is closed");
      // Nothing to tell anyone; an empty message would only cost a round trip.
      if (changes.length === 0) return;
      try {
        if (listeners.size > 0 && subscription) await awaitSubscribed(subscription);
        await publisher.publish(cfg.channel, encodeBatch(changes));
      } catch (err) {
        throw toBackendError(err, "publish");
      }
    },

    subscribe(listener) {
      // Wrapped so the same function subscribed twice gets two independent subscriptions.
      const entry: Listener = (changes) => listener(changes);
      if (!closed) subscription ??= openSubscription();
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      if (subscription) await closeRedisClient(subscription.subscriber);
    },
  };
}

/** The subscriber connection and its latest SUBSCRIBE attempt. */
interface Subscription {
  readonly subscriber: Redis;
  subscribed: Promise<void>;
}

function encodeBatch(changes: readonly PresenceChange[]): string {
  return JSON.stringify(changes.map((c) => [c.userId, c.online, c.lastSeenMs]));
}

/** Decodes and freezes a batch (listeners share it); undefined when it is not one of ours. */
function decodeBatch(message: string): readonly PresenceChange[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  const changes: PresenceChange[] = [];
  for (const item of value) {
    if (!Array.isArray(item) || item.length !== 3) return undefined;
    const [userId, online, lastSeenMs] = item as unknown[];
    if (typeof userId !== "string" || typeof online !== "boolean" || !Number.isFinite(lastSeenMs)) return undefined;
    changes.push(Object.freeze({ userId: asUserId(userId), online, lastSeenMs: lastSeenMs as number }));
  }
  return Object.freeze(changes);
}
