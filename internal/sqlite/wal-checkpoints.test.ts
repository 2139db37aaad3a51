import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkpointInBackground } from "./wal-checkpoints.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A WAL database with 300 rows of 4 KiB committed: about 300 pages in the WAL, fewer than the default autocheckpoint. */
function walDatabase(): { db: Database; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "wal-checkpoints-"));
  dirs.push(dir);
  const path = join(dir, "t.db");
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  return { db, path };
}

function fill(db: Database): void {
  const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
  db.transaction(() => {
    for (let i = 0; i < 300; i++) insert.run(new Uint8Array(4096).fill(i % 251));
  })();
}

test("a worker thread copies committed pages into the database file; the writer does not", async () => {
  const plain = walDatabase();
  const background = walDatabase();
  const checkpoints = checkpointInBackground(background.db, background.path, 10);
  fill(plain.db);
  fill(background.db);
  // Under the writer's own threshold, nothing reaches the database file by itself...
  let size = 0;
  for (let i = 0; i < 200 && size < 1_000_000; i++) {
    await Bun.sleep(10);
    size = statSync(background.path).size;
  }
  // ...except through the background checkpoint.
  expect(size).toBeGreaterThan(1_000_000);
  expect(statSync(plain.path).size).toBeLessThan(100_000);
  expect(background.db.query("PRAGMA wal_autocheckpoint").get()).toEqual({ wal_autocheckpoint: 10_000 });

  // Released, then closed: the writer is the last connection, so the WAL is checkpointed and removed.
  await checkpoints.release();
  await checkpoints.release();
  background.db.close(true);
  expect(existsSync(`${background.path}-wal`)).toBe(false);
  expect(new Database(background.path).query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 300 });
  plain.db.close();
});

test("an interval of 0 or an in-memory database keeps SQLite's own checkpoints", async () => {
  const { db, path } = walDatabase();
  await checkpointInBackground(db, path, 0).release();
  expect(db.query("PRAGMA wal_autocheckpoint").get()).toEqual({ wal_autocheckpoint: 1_000 });
  db.close();
  const memory = new Database(":memory:");
  await checkpointInBackground(memory, ":memory:", 50).release();
  expect(memory.query("PRAGMA wal_autocheckpoint").get()).toEqual({ wal_autocheckpoint: 1_000 });
  memory.close();
});
