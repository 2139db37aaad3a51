import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import pino from "pino";
import { asGatewayId, asUserId, systemClock } from "../../domain/index.ts";
import { closeRedisClient, deleteKeysWithPrefix, openRedisClient } from "../../routing/redis/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { createServer } from "node:net";
import { BackendUnavailableError } from "../../domain/index.ts";
import type { PresenceChange, PresenceStore } from "../presence-store.ts";
import { describePresenceStore } from "../presence-store.conformance.ts";
import { createRedisPresenceStore } from "./redis-presence.ts";

const logger = pino({ enabled: false });
const TTL_MS = 60_000;
/** Bound on waiting for a batch to come back through Redis pub/sub. */
const DELIVERY_WAIT_MS = 2_000;

describeWithBackends("redis presence", ["redis"], ({ redis }) => {
  // Every store gets its own key prefix (and so its own channel); its keys
  // are deleted afterwards, so runs sharing the test database stay apart.
  let admin: Redis;
  beforeAll(() => {
    admin = openRedisClient({ url: redis.url }, { logger, role: "test-admin" });
  });
  afterAll(() => closeRedisClient(admin));
  const newPrefix = () => `test:presence:${crypto.randomUUID()}:`;
  const open = (keyPrefix: string) =>
    createRedisPresenceStore({ url: redis.url, keyPrefix }, { clock: systemClock, logger });

  describePresenceStore("redis", async () => {
    const keyPrefix = newPrefix();
    const store = open(keyPrefix);
    return {
      store,
      clock: systemClock,
      advance: (ms) => Bun.sleep(ms),
      dispose: async () => {
        await store.close();
        await deleteKeysWithPrefix(admin, keyPrefix);
      },
    };
  });

  describe("across processes", () => {
    // Two stores on one prefix stand for two gateway processes.
    let keyPrefix: string;
    let stores: PresenceStore[];
    const user = (label: string) => asUserId(`${label}-${keyPrefix.slice(-9, -1)}`);
    afterEach(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await deleteKeysWithPrefix(admin, keyPrefix);
    });
    const setUp = (count: number) => {
      keyPrefix = newPrefix();
      stores = Array.from({ length: count }, () => open(keyPrefix));
      return stores;
    };

    test("a batch published by one process reaches the listeners of every process, in order", async () => {
      const [a, b] = setUp(2) as [PresenceStore, PresenceStore];
      const inboxes: PresenceChange[][] = [[], []];
      a.subscribe((batch) => inboxes[0]!.push(...batch));
      b.subscribe((batch) => inboxes[1]!.push(...batch));
      // b must be subscribed on the server before a publishes: b's first publish waits for that.
      await b.publish([{ userId: user("warmup"), online: false, lastSeenMs: 0 }]);
      const batches: PresenceChange[][] = [1, 2, 3].map((n) => [
        { userId: user(`u${n}`), online: n % 2 === 1, lastSeenMs: n },
      ]);
      for (const batch of batches) await a.publish(batch);

      for (const inbox of inboxes) {
        await waitUntil(() => inbox.filter((c) => c.userId !== user("warmup")).length >= 3);
        expect(inbox.filter((c) => c.userId !== user("warmup"))).toEqual(batches.flat());
      }
    });

    test("a malformed message on the channel is dropped and later batches still arrive", async () => {
      const [store] = setUp(1) as [PresenceStore];
      const received: PresenceChange[] = [];
      store.subscribe((batch) => received.push(...batch));
      const good: PresenceChange = { userId: user("alice"), online: true, lastSeenMs: 0 };
      await store.publish([good]);
      await admin.publish(`${keyPrefix}presence-changes`, "not json");
      await admin.publish(`${keyPrefix}presence-changes`, JSON.stringify([["bob", "yes", 0]]));
      await store.publish([good]);
      await waitUntil(() => received.length >= 2);
      expect(received).toEqual([good, good]);
    });

    test("a store that nobody subscribed to holds no subscription; the first subscribe opens one", async () => {
      const [store] = setUp(1) as [PresenceStore];
      const subscribers = async () =>
        ((await admin.pubsub("NUMSUB", `${keyPrefix}presence-changes`)) as [string, number])[1];
      await store.publish([{ userId: user("alice"), online: true, lastSeenMs: 0 }]);
      await store.lookup([user("alice")]);
      await Bun.sleep(200); // a subscriber opened with the store would have subscribed by now
      expect(await subscribers()).toBe(0);
      store.subscribe(() => {});
      await waitUntil(async () => (await subscribers()) === 1);
    });

    test("two gateways releasing the same user at once: exactly one sees the user unheld", async () => {
      const [a, b] = setUp(2) as [PresenceStore, PresenceStore];
      const [gw1, gw2] = [asGatewayId("gw-1"), asGatewayId("gw-2")];
      const alice = user("alice");
      await a.refresh(gw1, [alice], TTL_MS);
      await b.refresh(gw2, [alice], TTL_MS);
      const answers = await Promise.all([a.release(gw1, alice, 1_000), b.release(gw2, alice, 2_000)]);
      expect(answers.filter(Boolean)).toHaveLength(1);
      expect((await a.lookup([alice])).get(alice)).toEqual({ userId: alice, online: false, lastSeenMs: 2_000 });
    });
  });

  describe("after the server lost its data", () => {
    // Stands in for FLUSHDB: the store owns nothing outside its prefix, so
    // losing every key under it is the same event for the store, and a real
    // FLUSHDB would also wipe whatever else shares the test database.
    test("users read offline until the next refresh re-arms their holds", async () => {
      const keyPrefix = newPrefix();
      const store = open(keyPrefix);
      const gw = asGatewayId("gw-1");
      const [alice, bob] = [asUserId(`alice-${keyPrefix}`), asUserId(`bob-${keyPrefix}`)];
      try {
        await store.refresh(gw, [alice, bob], TTL_MS);
        expect(await deleteKeysWithPrefix(admin, keyPrefix)).toBeGreaterThan(0);

        // Nothing comes back by itself: holds and last-seen records are gone...
        const lost = await store.lookup([alice, bob]);
        expect([...lost.values()]).toEqual([
          { userId: alice, online: false, lastSeenMs: 0 },
          { userId: bob, online: false, lastSeenMs: 0 },
        ]);
        // ...until the gateway's next heartbeat, which holds its users again.
        const beforeMs = systemClock.nowMs();
        await store.refresh(gw, [alice, bob], TTL_MS);
        const back = await store.lookup([alice, bob]);
        for (const userId of [alice, bob]) {
          expect(back.get(userId)?.online).toBe(true);
          expect(back.get(userId)?.lastSeenMs).toBeGreaterThanOrEqual(beforeMs);
        }
        expect(await store.release(gw, alice, beforeMs)).toBe(true);
      } finally {
        await store.close();
        await deleteKeysWithPrefix(admin, keyPrefix);
      }
    });
  });
});

describe("redis presence with no server to reach", () => {
  const [gw, alice] = [asGatewayId("gw-1"), asUserId(`alice-${crypto.randomUUID()}`)];
  test.each([
    ["refresh", (s: PresenceStore) => s.refresh(gw, [alice], TTL_MS)],
    ["release", (s: PresenceStore) => s.release(gw, alice, 1)],
    ["lookup", (s: PresenceStore) => s.lookup([alice])],
    ["publish with a listener", (s: PresenceStore) => {
      s.subscribe(() => undefined);
      return s.publish([{ userId: alice, online: true, lastSeenMs: 0 }]);
    }],
  ])("%s fails with BackendUnavailableError", async (_label, call) => {
    const url = `redis://127.0.0.1:${await closedPort()}/0`;
    const store = createRedisPresenceStore({ url }, { clock: systemClock, logger });
    try {
      await expect(call(store)).rejects.toBeInstanceOf(BackendUnavailableError);
    } finally {
      await store.close();
    }
  });
});

/** A local port that nothing listens on (it was just released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DELIVERY_WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${DELIVERY_WAIT_MS} ms`);
    await Bun.sleep(5);
  }
}
