import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeMessageLog } from "../message-log.conformance.ts";
import type { MessageLog } from "../message-log.ts";
import { assignPartitions } from "./assign-partitions.ts";
import { createEmbeddedLog } from "./index.ts";
import { openSqliteLogStorage } from "./sqlite-log-storage.ts";

const PARTITIONS = 4;

describeMessageLog("embedded (:memory:)", async () => {
  const log = createEmbeddedLog({ path: ":memory:", partitionCount: PARTITIONS }, {});
  return { log, cleanup: () => log.close() };
});

/** A log on a file in a fresh temp dir; `tuning` paces its group commits and checkpoints in the background. */
function fileLog(tuning: { commitIntervalMs?: number; checkpointIntervalMs?: number } = {}) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "embedded-log-"));
    const path = join(dir, "messages.sqlite");
    const open = () => createEmbeddedLog({ path, partitionCount: PARTITIONS, ...tuning }, {});
    const opened: MessageLog[] = [open()];
    return {
      log: opened[0]!,
      reopen: async () => {
        const log = open();
        opened.push(log);
        return log;
      },
      cleanup: async () => {
        for (const log of opened) await log.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

describeMessageLog("embedded (sqlite file)", fileLog());
// The same contract with commits at most every 5 ms and checkpoints in a worker thread every 10 ms:
// appends and offset commits wait, nothing else changes.
describeMessageLog("embedded (sqlite file, paced commits, background checkpoints)", fileLog({ commitIntervalMs: 5, checkpointIntervalMs: 10 }));

describe("createEmbeddedLog", () => {
  test("refuses to reopen a file with another partition count", async () => {
    const dir = mkdtempSync(join(tmpdir(), "embedded-log-"));
    const path = join(dir, "messages.sqlite");
    try {
      await createEmbeddedLog({ path, partitionCount: 4 }, {}).close();
      expect(() => createEmbeddedLog({ path, partitionCount: 8 }, {})).toThrow(/created with 4 partitions/);
      const same = createEmbeddedLog({ path, partitionCount: 4 }, {});
      expect(same.partitionCount).toBe(4);
      await same.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([0, -1, 1.5])("refuses partition count %p", (partitionCount) => {
    expect(() => createEmbeddedLog({ path: ":memory:", partitionCount }, {})).toThrow(RangeError);
  });

  test("rejects appends still queued when it closes", async () => {
    const log = createEmbeddedLog({ path: ":memory:", partitionCount: PARTITIONS }, {});
    const queued = log.append([{ key: "k", value: new Uint8Array([1]) }]);
    await log.close();
    await expect(queued).rejects.toThrow(/closed/);
  });

  test("writes the appends of one tick as consecutive offsets of one group commit", async () => {
    const log = createEmbeddedLog({ path: ":memory:", partitionCount: 1 }, {});
    const positions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => log.append([{ key: `k${i}`, value: new Uint8Array([i]) }])),
    );
    expect(positions.flat().map((position) => position.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await log.close();
  });
});

describe("offset commits", () => {
  test("are seen at once, never move back, and are written with the next group commit or at close", async () => {
    const dir = mkdtempSync(join(tmpdir(), "embedded-log-"));
    const path = join(dir, "messages.sqlite");
    try {
      const storage = openSqliteLogStorage({ path, partitionCount: 2 });
      storage.commit("g", 0, 5);
      storage.commit("g", 0, 3); // a late, lower commit changes nothing
      expect(storage.committedOffset("g", 0)).toBe(5);
      // Flushed together with an append of the same turn.
      await storage.append([{ partition: 1, key: "k", value: new Uint8Array([1]) }]);
      const other = openSqliteLogStorage({ path, partitionCount: 2 });
      expect(other.committedOffset("g", 0)).toBe(5);
      other.close();
      // A commit still queued when the storage closes is written by close.
      storage.commit("g", 1, 1);
      await storage.close();
      const reopened = openSqliteLogStorage({ path, partitionCount: 2 });
      expect([reopened.committedOffset("g", 0), reopened.committedOffset("g", 1)]).toEqual([5, 1]);
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the in-memory tail of recent records", () => {
  test("reads give what SQLite holds, at every offset, as the tail fills and is trimmed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "embedded-log-"));
    const path = join(dir, "messages.sqlite");
    try {
      const storage = openSqliteLogStorage({ path, partitionCount: 2, tailRecords: 3 });
      // Appends in separate commits and several in one, across both partitions.
      for (let i = 0; i < 7; i++) {
        const batch = [{ partition: i % 2, key: `k${i}`, value: new Uint8Array([i]) }];
        if (i % 3 === 0) batch.push({ partition: 1, key: `x${i}`, value: new Uint8Array([100 + i]) });
        await Promise.all([storage.append(batch), storage.append([{ partition: 0, key: `y${i}`, value: new Uint8Array([200 + i]) }])]);
        // A second handle has no tail: every read of it comes from SQLite.
        const fromSqlite = openSqliteLogStorage({ path, partitionCount: 2, tailRecords: 0 });
        for (const partition of [0, 1]) {
          for (let from = 0; from <= 14; from++) {
            for (const max of [1, 2, 5, 100]) {
              const plain = (rs: ReturnType<typeof storage.read>) => rs.map((r) => ({ ...r, value: [...r.value] }));
              expect(plain(storage.read(partition, from, max))).toEqual(plain(fromSqlite.read(partition, from, max)));
            }
          }
        }
        fromSqlite.close();
      }
      await storage.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("assignPartitions", () => {
  const [a, b, c] = [{ id: "a" }, { id: "b" }, { id: "c" }];
  const ids = (owners: readonly ({ id: string } | undefined)[]) => owners.map((owner) => owner?.id ?? "-").join("");
  test.each([
    { case: "first member takes all", owners: [undefined, undefined, undefined, undefined], live: [a], want: "aaaa" },
    { case: "a joiner takes half, the rest stay", owners: [a, a, a, a], live: [a, b], want: "aabb" },
    { case: "a leaver's partitions go to the least loaded", owners: [a, b, c, a, b, c], live: [a, c], want: "aacacc" },
    { case: "uneven counts differ by at most one", owners: [a, a, a, a, a], live: [a, b, c], want: "aabcb" },
    { case: "nobody live leaves all unowned", owners: [a, b], live: [], want: "--" },
  ])("$case", ({ owners, live, want }) => {
    expect(ids(assignPartitions(owners, live))).toBe(want);
  });
});
