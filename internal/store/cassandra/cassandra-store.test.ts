import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pino from "pino";
import { BackendUnavailableError, DomainError, asUserId, type Seq } from "../../domain/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { BUCKET_SPAN, bucketOf, type AccountStore, type MessageStore } from "../index.ts";
import { describeAccountStore, describeMessageStore } from "../message-store.conformance.ts";
import { messageAt, newConversation, seqsOf, thread, uniqueDevice } from "../store-fixture.ts";
import { createDriverClient } from "./cql-session.ts";
import { createCassandraStore, loadSchemaFiles, migrateCassandra, type CassandraStoreConfig } from "./index.ts";

type Store = MessageStore & AccountStore;
const logger = pino({ level: "silent" });
const freshKeyspace = (label: string) => `chat_test_${label}_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;

describeWithBackends("cassandra store", ["cassandra"], ({ cassandra }) => {
  // One keyspace for this file's run, dropped at the end; cases use unique ids.
  const cfg: CassandraStoreConfig = {
    contactPoints: cassandra.contactPoints,
    localDataCenter: cassandra.localDataCenter,
    keyspace: freshKeyspace("store"),
    replicationFactor: 1,
    consistency: "LOCAL_QUORUM",
  };
  const admin = createDriverClient(cfg, undefined);
  const dropAfterwards: string[] = [cfg.keyspace];

  beforeAll(async () => {
    await admin.connect();
    await migrateCassandra(cfg, { logger });
  });
  afterAll(async () => {
    for (const keyspace of dropAfterwards) await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await admin.shutdown();
  });

  /** Each case gets its own client; reopen = a new client on the same keyspace. */
  async function fixture() {
    let store: Store = await createCassandraStore(cfg, { logger });
    return {
      get store() {
        return store;
      },
      reopen: async () => {
        await store.close();
        store = await createCassandraStore(cfg, { logger });
        return store;
      },
      cleanup: () => store.close(),
    };
  }

  /** Runs `body` with `n` stores (separate clients, like separate workers), closing them after. */
  async function withStores<T>(n: number, body: (stores: Store[]) => Promise<T>, over = cfg): Promise<T> {
    const stores = await Promise.all(Array.from({ length: n }, () => createCassandraStore(over, { logger })));
    try {
      return await body(stores);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }

  describeMessageStore("cassandra", fixture);
  describeAccountStore("cassandra", fixture);

  describe("monotonic state under a stale writer", () => {
    const zombieCase =
      "a zombie replaying older records, racing and then landing last, never moves heads, watermarks or cursors back";
    test(zombieCase, async () => {
      await withStores(2, async ([fresh, stale]) => {
        const { conversation: c, a, b } = newConversation();
        await fresh!.ensureConversation(c);
        const device = uniqueDevice("phone");
        const messages = thread(c, Array.from({ length: 16 }, (_, i) => 10 * (i + 1)));
        const random = seededRandom(7);

        for (const [i, m] of messages.entries()) {
          // The zombie replays the last few records before m: the same
          // messages, and receipts/cursors that were current back then.
          const replay = messages.slice(Math.max(0, i - 3), i).flatMap((old) => [
            () => stale!.appendMessage(old),
            () => stale!.advanceWatermarks(c.id, b, { deliveredSeq: old.seq, readSeq: old.prevSeq }),
            () => stale!.advanceDeviceCursor(device, c.id, old.seq),
          ]);
          const ahead = [
            () => fresh!.appendMessage(m),
            () => fresh!.advanceWatermarks(c.id, b, { deliveredSeq: m.seq, readSeq: m.prevSeq }),
            () => fresh!.advanceDeviceCursor(device, c.id, m.seq),
          ];
          await Promise.all(shuffled([...replay, ...ahead], random).map((op) => op()));
          // The slow writer's writes land after the fresh ones: the order in
          // which a read-modify-write "max" would overwrite 40 with 20.
          await Promise.all(replay.map((op) => op()));

          const want = { deliveredSeq: m.seq, readSeq: m.prevSeq };
          for (const reader of [fresh!, stale!]) {
            expect(await reader.headSeq(c.id)).toBe(m.seq);
            expect(await reader.getWatermarks(c.id)).toEqual(new Map([[b, want]]));
            expect(await reader.getDeviceCursors(device)).toEqual(new Map([[c.id, m.seq]]));
            const [ofA] = await reader.listConversations(a);
            const [ofB] = await reader.listConversations(b);
            for (const entry of [ofA, ofB]) {
              expect(entry?.headSeq).toBe(m.seq);
              expect(entry?.lastMessage).toEqual(m);
            }
            expect(ofA?.peer).toEqual(want);
            expect(ofB?.own).toEqual(want);
            expect(ofB?.unreadCount).toBe(m.senderUserId === a ? 1 : 0);
          }
        }
        expect(await fresh!.messagesAfter(c.id, 0, 100)).toEqual(messages);
      });
    });

    test("a dedup hit always finds the message already stored", async () => {
      await withStores(2, async ([writer, observer]) => {
        const { conversation: c } = newConversation();
        await writer!.ensureConversation(c);
        const messages = thread(c, Array.from({ length: 30 }, (_, i) => 3 * i + 1));
        let done = false;
        const appends = Promise.all(messages.map((m) => writer!.appendMessage(m))).finally(() => (done = true));
        const checked: Seq[] = [];
        for (let round = 0; round < 200 && !(done && checked.length === messages.length); round++) {
          for (const m of messages) {
            if (checked.includes(m.seq)) continue;
            if ((await observer!.findDedup(c.id, m.clientMsgId)) === undefined) continue;
            expect(await observer!.messagesAfter(c.id, m.seq - 1, 1)).toEqual([m]);
            checked.push(m.seq);
          }
        }
        await appends;
        expect(checked.sort((x, y) => x - y)).toEqual(seqsOf(messages));
      });
    });

    test("a repeated append leaves the same cells with the same write times", async () => {
      await withStores(1, async ([store]) => {
        const { conversation: c } = newConversation();
        await store!.ensureConversation(c);
        const m = messageAt(c, 12_345, 0, c.userA);
        const cells = async () =>
          (
            await admin.execute(
              `SELECT seq, text, writetime(text) AS wt FROM ${cfg.keyspace}.messages ` +
                "WHERE conversation_id = ? AND bucket = ?",
              [c.id, bucketOf(m.seq)],
              { prepare: true },
            )
          ).rows.map((r) => JSON.stringify([String(r.get("seq")), r.get("text"), String(r.get("wt"))]));
        await store!.appendMessage(m);
        const first = await cells();
        await store!.appendMessage({ ...m });
        expect(await cells()).toEqual(first);
        expect(first).toEqual([JSON.stringify([String(m.seq), m.text, String(m.seq)])]);
      });
    });
  });

  describe("buckets and unread counts", () => {
    test("pages, heads and predecessors stay exact for messages astronomically far apart in seq space", async () => {
      await withStores(1, async ([store]) => {
        const { conversation: c, b } = newConversation();
        await store!.ensureConversation(c);
        // Millions to billions of empty buckets between neighbours: a reader
        // that probed buckets one by one would never finish.
        const seqs = [3, 5 * BUCKET_SPAN ** 2 + 1, 2 ** 52 + 7, 2 ** 53 - 2];
        const messages = seqs.map((seq, i) => messageAt(c, seq, seqs[i - 1] ?? 0, c.userA));
        for (const m of [...messages].reverse()) await store!.appendMessage(m);

        expect(await store!.messagesAfter(c.id, 0, 10)).toEqual(messages);
        expect(await store!.messagesAfter(c.id, seqs[1]!, 1)).toEqual([messages[2]!]);
        expect(await store!.messagesBefore(c.id, 2 ** 53, 2)).toEqual(messages.slice(2));
        expect(await store!.messagesBefore(c.id, seqs[2]!, 10)).toEqual(messages.slice(0, 2));
        expect(await store!.headSeq(c.id)).toBe(seqs[3]!);
        for (const m of messages) expect(await store!.lastSeqBefore(c.id, m.seq)).toBe(m.prevSeq);
        expect((await store!.listConversations(b))[0]?.unreadCount).toBe(4);
        await store!.advanceWatermarks(c.id, b, { readSeq: seqs[1]! });
        expect((await store!.listConversations(b))[0]?.unreadCount).toBe(2);
      });
    });

    test("a bucket listed in the directory without messages (an append that failed half-way) is skipped", async () => {
      await withStores(1, async ([store]) => {
        const { conversation: c } = newConversation();
        await store!.ensureConversation(c);
        const messages = thread(c, [7, 3 * BUCKET_SPAN + 1]);
        for (const m of messages) await store!.appendMessage(m);
        for (const bucket of [1, 2, 9]) {
          await admin.execute(
            `INSERT INTO ${cfg.keyspace}.message_buckets (conversation_id, bucket) VALUES (?, ?)`,
            [c.id, bucket],
            { prepare: true },
          );
        }
        expect(await store!.messagesAfter(c.id, 0, 10)).toEqual(messages);
        expect(await store!.messagesBefore(c.id, 10 * BUCKET_SPAN, 10)).toEqual(messages);
        expect(await store!.headSeq(c.id)).toBe(messages[1]!.seq);
        expect(await store!.lastSeqBefore(c.id, messages[1]!.seq)).toBe(7);
      });
    });

    test.each([
      [0, 3],
      [20, 3],
      [40, 3],
      [50, 2],
      [60, 1],
      [70, 0],
    ])("with unreadCountCap 3 and the read mark at %p the unread count is %p", async (readSeq, unread) => {
      // a sends 10..70 except b's 30; cap 3 means "3 or more".
      await withStores(1, async ([store]) => {
        const { conversation: c, a, b } = newConversation();
        await store!.ensureConversation(c);
        const seqs = [10, 20, 30, 40, 50, 60, 70];
        for (const [i, seq] of seqs.entries()) {
          await store!.appendMessage(messageAt(c, seq, seqs[i - 1] ?? 0, seq === 30 ? b : a));
        }
        if (readSeq > 0) await store!.advanceWatermarks(c.id, b, { readSeq });
        expect((await store!.listConversations(b))[0]?.unreadCount).toBe(unread);
        expect((await store!.listConversations(a))[0]?.unreadCount).toBe(1);
      }, { ...cfg, unreadCountCap: 3 });
    });
  });

  describe("accounts", () => {
    test("two registrations of one username at once: exactly one wins, the other gets USERNAME_TAKEN", async () => {
      await withStores(2, async (stores) => {
        const username = `race-${crypto.randomUUID()}`;
        const users = stores.map((_, i) => ({
          id: asUserId(`racer${i}_${crypto.randomUUID()}`),
          username,
          passwordHash: "h",
          createdAtMs: 1,
        }));
        const results = await Promise.allSettled(stores.map((s, i) => s.createUser(users[i]!)));
        const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [users[i]!] : []));
        const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
        expect(won).toHaveLength(1);
        expect(lost[0]).toBeInstanceOf(DomainError);
        expect(lost[0]).toMatchObject({ kind: "conflict", reason: "USERNAME_TAKEN" });
        expect(await stores[0]!.findUserByName(username)).toEqual(won[0]);
        // The winner retrying its own registration (say after a timeout) succeeds.
        await stores[1]!.createUser(won[0]!);
      });
    });
  });

  describe("schema and failures", () => {
    test("migrating twice applies every schema file once, then nothing", async () => {
      const other = { ...cfg, keyspace: freshKeyspace("migrate") };
      dropAfterwards.push(other.keyspace);
      const files = loadSchemaFiles().map((f) => ({ version: f.version, name: f.name, file: f.file }));
      expect(files.length).toBeGreaterThan(0);
      const first = await migrateCassandra(other, { logger });
      const second = await migrateCassandra(other, { logger });
      expect(first.applied).toEqual(files);
      expect(second.applied).toEqual([]);
      expect(second.version).toBe(files.at(-1)!.version);
      const recorded = await admin.execute(`SELECT version FROM ${other.keyspace}.schema_migrations`);
      expect(recorded.rows.map((r) => Number(r.get("version"))).sort()).toEqual(files.map((f) => f.version));
      const probe = newConversation().conversation.id;
      await withStores(1, async ([store]) => expect(await store!.headSeq(probe)).toBe(0), other);
    });

    test("opening refuses a missing keyspace and an unmigrated one, and migrate: true migrates first", async () => {
      const missing = { ...cfg, keyspace: freshKeyspace("missing") };
      const empty = { ...cfg, keyspace: freshKeyspace("empty") };
      dropAfterwards.push(missing.keyspace, empty.keyspace);
      await expect(createCassandraStore(missing, { logger })).rejects.toThrow(/does not exist: run cmd\/migrate/);
      await admin.execute(
        `CREATE KEYSPACE ${empty.keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
      );
      await expect(createCassandraStore(empty, { logger })).rejects.toThrow(
        /lacks schema 001_messages.cql, 002_accounts.cql: run cmd\/migrate/,
      );
      const opened = await createCassandraStore({ ...empty, migrate: true }, { logger });
      expect(await opened.getUser(asUserId("nobody"))).toBeUndefined();
      await opened.close();
    });

    test("an unreachable cluster and a closed store reject with BackendUnavailableError", async () => {
      const nowhere = { ...cfg, contactPoints: ["127.0.0.1:1"] };
      await expect(createCassandraStore(nowhere, { logger })).rejects.toBeInstanceOf(BackendUnavailableError);
      const store = await createCassandraStore(cfg, { logger });
      await store.close();
      await store.close();
      const { conversation } = newConversation();
      await expect(store.headSeq(conversation.id)).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(store.appendMessage(thread(conversation, [1])[0]!)).rejects.toBeInstanceOf(BackendUnavailableError);
    });
  });
});

/** A small deterministic generator, so a failing interleaving can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
