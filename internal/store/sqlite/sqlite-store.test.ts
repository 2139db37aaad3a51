import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BackendUnavailableError } from "../../domain/index.ts";
import type { AccountStore, MessageStore } from "../index.ts";
import { describeAccountStore, describeMessageStore } from "../message-store.conformance.ts";
import { newConversation, thread } from "../store-fixture.ts";
import { createSqliteStore, SCHEMA_VERSION } from "./index.ts";

type Store = MessageStore & AccountStore;

async function memoryFixture() {
  const store = createSqliteStore({ path: ":memory:" });
  return { store, cleanup: () => store.close() };
}

/**
 * A store on a file in a fresh temp dir (nested, to cover parent creation);
 * reopen closes and reopens it. `tuning` paces its group commits and
 * checkpoints in the background.
 */
function fileFixture(tuning: { commitIntervalMs?: number; checkpointIntervalMs?: number } = {}) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "sqlite-store-"));
    const path = join(dir, "nested", "chat.db");
    let store: Store = createSqliteStore({ path, ...tuning });
    return {
      get store() {
        return store;
      },
      reopen: async () => {
        await store.close();
        store = createSqliteStore({ path, ...tuning });
        return store;
      },
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

for (const [name, make] of [
  ["sqlite :memory:", memoryFixture],
  ["sqlite file", fileFixture()],
  // The same contract with commits at most every 5 ms and checkpoints in a worker thread every 10 ms
  // (the server runs 2 and 200): writes wait, nothing else changes.
  ["sqlite file, paced commits, background checkpoints", fileFixture({ commitIntervalMs: 5, checkpointIntervalMs: 10 })],
] as const) {
  describeMessageStore(name, make);
  describeAccountStore(name, make);
}

describe("sqlite store specifics", () => {
  test("creates the file's parent directory and records the schema version", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sqlite-store-"));
    const path = join(dir, "a", "b", "chat.db");
    const opened = createSqliteStore({ path });
    await opened.close();
    expect(existsSync(path)).toBe(true);
    const db = new Database(path, { readonly: true });
    const version = db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version;
    const mode = db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode;
    db.close();
    rmSync(dir, { recursive: true, force: true });
    expect(version).toBe(SCHEMA_VERSION);
    expect(mode).toBe("wal");
  });

  test("stores messages in buckets of their seq", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sqlite-store-"));
    const path = join(dir, "chat.db");
    const store = createSqliteStore({ path });
    const { conversation } = newConversation();
    await store.ensureConversation(conversation);
    for (const m of thread(conversation, [5, 16_383, 16_384, 100_000])) await store.appendMessage(m);
    await store.close();
    const db = new Database(path, { readonly: true });
    const rows = db.query<{ bucket: number; seq: number }, [string]>(
      "SELECT bucket, seq FROM messages WHERE conversation_id = ? ORDER BY seq",
    ).all(conversation.id);
    db.close();
    rmSync(dir, { recursive: true, force: true });
    expect(rows).toEqual([
      { bucket: 0, seq: 5 },
      { bucket: 0, seq: 16_383 },
      { bucket: 1, seq: 16_384 },
      { bucket: 6, seq: 100_000 },
    ]);
  });

  test("calls after close reject with BackendUnavailableError", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const { conversation } = newConversation();
    await store.close();
    await store.close();
    await expect(store.headSeq(conversation.id)).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(store.appendMessage(thread(conversation, [1])[0]!)).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  test("a failing append rolls back the appends committed with it and rejects each caller", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const { conversation } = newConversation();
    await store.ensureConversation(conversation);
    const [good, bad] = thread(conversation, [5, 9]);
    const broken = { ...bad!, text: null as unknown as string }; // violates NOT NULL
    const results = await Promise.allSettled([store.appendMessage(good!), store.appendMessage(broken)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(BackendUnavailableError);
    expect(await store.headSeq(conversation.id)).toBe(0);
    await store.appendMessage(good!);
    expect(await store.headSeq(conversation.id)).toBe(5);
    await store.close();
  });

  test("paced commits: a write within the interval waits for it, and close commits it instead of dropping it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sqlite-store-"));
    const path = join(dir, "chat.db");
    const store = createSqliteStore({ path, commitIntervalMs: 60_000 });
    const { conversation } = newConversation();
    await store.ensureConversation(conversation);
    const [first, second] = thread(conversation, [1, 2]);
    await store.appendMessage(first!); // the first commit runs at once
    let committed = false;
    const waiting = store.appendMessage(second!).then(() => (committed = true));
    await Bun.sleep(50);
    expect(committed).toBe(false);
    expect(await store.headSeq(conversation.id)).toBe(1);
    await store.close();
    await waiting;
    const reopened = createSqliteStore({ path });
    expect(await reopened.headSeq(conversation.id)).toBe(2);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("refuses a database written by a newer schema version", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sqlite-store-"));
    const path = join(dir, "chat.db");
    const db = new Database(path);
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => createSqliteStore({ path })).toThrow(/newer/);
    rmSync(dir, { recursive: true, force: true });
  });
});
