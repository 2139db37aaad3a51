import { Database } from "bun:sqlite";
import { BackendUnavailableError, createPacedFlush } from "../../domain/index.ts";
import { checkpointInBackground } from "../../sqlite/wal-checkpoints.ts";
import type { LogPosition, LogRecord } from "../message-log.ts";

/** A record whose partition the caller already chose. */
export interface PlacedAppend {
  readonly partition: number;
  readonly key: string;
  readonly value: Uint8Array;
}

/**
 * SQLite storage of the embedded log: records, group offsets and the fixed
 * partition count. One process owns the file (the next offsets live in memory).
 */
export interface SqliteLogStorage {
  readonly partitionCount: number;
  /**
   * Appends durably; every call made in the same event-loop turn shares one
   * transaction (group commit), which is what makes small appends cheap.
   */
  append(records: readonly PlacedAppend[]): Promise<LogPosition[]>;
  /** Up to `maxRecords` records of `partition` from `fromOffset` on, ascending. */
  read(partition: number, fromOffset: number, maxRecords: number): LogRecord[];
  /** Resolves once `partition` holds a record at `offset`, or when `signal` aborts. */
  waitForRecord(partition: number, offset: number, signal: AbortSignal): Promise<void>;
  /** The group's next offset to consume in `partition` (0 for a new group). */
  committedOffset(groupId: string, partition: number): number;
  /**
   * Moves the group's next offset forward (never backwards). Written with the
   * next group commit, not on its own: committedOffset sees it at once, and a
   * crash before that write only replays records, which consumers tolerate.
   */
  commit(groupId: string, partition: number, nextOffset: number): void;
  /** Rejects queued and later appends; reads and commits still work. */
  stopAppends(): void;
  /** Stops appends and closes the database. Idempotent. */
  close(): Promise<void>;
}

interface CommitEntry {
  readonly groupId: string;
  readonly partition: number;
  readonly nextOffset: number;
}

const commitKey = (groupId: string, partition: number) => `${groupId}|${partition}`;

interface PendingAppend {
  readonly records: readonly PlacedAppend[];
  readonly resolve: (positions: LogPosition[]) => void;
  readonly reject: (err: unknown) => void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS log_meta (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_records (
  partition_id  INTEGER NOT NULL,
  record_offset INTEGER NOT NULL,
  key           TEXT NOT NULL,
  value         BLOB NOT NULL,
  PRIMARY KEY (partition_id, record_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_group_offsets (
  group_id     TEXT NOT NULL,
  partition_id INTEGER NOT NULL,
  next_offset  INTEGER NOT NULL,
  PRIMARY KEY (group_id, partition_id)
) WITHOUT ROWID;
`;

/**
 * Records kept in memory per partition after their commit (default
 * DEFAULT_TAIL_RECORDS): consumers keep up with the head almost always, so
 * they read the newest records from here instead of querying SQLite for
 * what this process has just written.
 */
export const DEFAULT_TAIL_RECORDS = 512;

/** The newest committed records of one partition, in offset order. */
interface Tail {
  firstOffset: number;
  records: LogRecord[];
}

export interface SqliteLogStorageConfig {
  readonly path: string;
  readonly partitionCount: number;
  /** Committed records kept in memory per partition (default DEFAULT_TAIL_RECORDS). */
  readonly tailRecords?: number;
  /** Least time between two group commits (default 0; see createPacedFlush). */
  readonly commitIntervalMs?: number;
  /** Checkpoints in a worker thread this often (default 0: SQLite's own, in the writing thread; see checkpointInBackground). */
  readonly checkpointIntervalMs?: number;
}

/** Opens (creating if needed) the log at `path`; refuses a partition count other than the stored one. */
export function openSqliteLogStorage(cfg: SqliteLogStorageConfig): SqliteLogStorage {
  const { partitionCount } = cfg;
  const tailRecords = cfg.tailRecords ?? DEFAULT_TAIL_RECORDS;
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`embedded log: partitionCount must be a positive integer, got ${partitionCount}`);
  }
  const db = new Database(cfg.path, { create: true, strict: true });
  try {
    // WAL + NORMAL: a commit survives a process crash (not a power cut) without an fsync per transaction.
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA synchronous = NORMAL");
    db.run(SCHEMA);
    checkPartitionCount(db, cfg.path, partitionCount);
  } catch (err) {
    db.close();
    throw err;
  }
  const checkpoints = checkpointInBackground(db, cfg.path, cfg.checkpointIntervalMs ?? 0);

  const insertRecord = db.prepare(
    "INSERT INTO log_records (partition_id, record_offset, key, value) VALUES (?, ?, ?, ?)",
  );
  const selectRecords = db.prepare<{ record_offset: number; key: string; value: Uint8Array }, [number, number, number]>(
    `SELECT record_offset, key, value FROM log_records
     WHERE partition_id = ? AND record_offset >= ? ORDER BY record_offset LIMIT ?`,
  );
  const selectCommitted = db.prepare<{ next_offset: number }, [string, number]>(
    "SELECT next_offset FROM log_group_offsets WHERE group_id = ? AND partition_id = ?",
  );
  const upsertCommitted = db.prepare(
    `INSERT INTO log_group_offsets (group_id, partition_id, next_offset) VALUES (?, ?, ?)
     ON CONFLICT (group_id, partition_id) DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)`,
  );

  // Offsets are handed out in memory, before the transaction runs, so the positions of a
  // whole group commit are known up front; a failed transaction restores them.
  const endOffsets = loadEndOffsets(db, partitionCount);
  // Starts empty at the end offsets: older records are read from SQLite.
  const tails: Tail[] = endOffsets.map((end) => ({ firstOffset: end, records: [] }));
  const waiters = Array.from({ length: partitionCount }, () => new Set<() => void>());
  let pending: PendingAppend[] = [];
  /** Offset commits not yet written, by group and partition. */
  const pendingCommits = new Map<string, CommitEntry>();
  let appendsStopped = false;
  let closed = false;

  const writeAll = db.transaction((batch: readonly PendingAppend[], commits: readonly CommitEntry[]) => {
    for (const c of commits) upsertCommitted.run(c.groupId, c.partition, c.nextOffset);
    const results: LogPosition[][] = [];
    for (const request of batch) {
      const positions: LogPosition[] = [];
      for (const record of request.records) {
        const offset = endOffsets[record.partition]!;
        endOffsets[record.partition] = offset + 1;
        insertRecord.run(record.partition, offset, record.key, record.value);
        positions.push({ partition: record.partition, offset });
      }
      results.push(positions);
    }
    return results;
  });

  // setImmediate (not a microtask) so appends from every I/O callback of this turn join in.
  const paced = createPacedFlush(flush, { minIntervalMs: cfg.commitIntervalMs ?? 0, soon: setImmediate });

  function flush(): void {
    if (closed) return;
    const batch = pending;
    pending = [];
    const commits = [...pendingCommits.values()];
    pendingCommits.clear();
    if (batch.length === 0 && commits.length === 0) return;
    const before = endOffsets.slice();
    let results: LogPosition[][];
    try {
      results = writeAll(batch, commits);
    } catch (err) {
      before.forEach((offset, partition) => (endOffsets[partition] = offset));
      // Offsets stay queued for the next flush (a newer commit of the same partition wins).
      for (const c of commits) queueCommit(c);
      const failure = new BackendUnavailableError("log", "embedded log write failed", { cause: err });
      for (const request of batch) request.reject(failure);
      return;
    }
    batch.forEach((request, i) => request.resolve(results[i]!));
    if (tailRecords > 0) keepInTail(batch, results);
    // Wake consumers only after the commit: they must never see a record that could still roll back.
    for (let partition = 0; partition < partitionCount; partition++) {
      if (endOffsets[partition] === before[partition]) continue;
      const woken = waiters[partition]!;
      for (const wake of [...woken]) wake();
      woken.clear();
    }
  }

  /** Adds committed records to their partitions' tails (offsets are consecutive per partition). */
  function keepInTail(batch: readonly PendingAppend[], results: readonly LogPosition[][]): void {
    const touched = new Set<Tail>();
    batch.forEach((request, i) => {
      request.records.forEach((record, j) => {
        const tail = tails[record.partition]!;
        tail.records.push({ partition: record.partition, offset: results[i]![j]!.offset, key: record.key, value: record.value });
        touched.add(tail);
      });
    });
    for (const tail of touched) {
      const excess = tail.records.length - tailRecords;
      if (excess <= 0) continue;
      tail.records.splice(0, excess);
      tail.firstOffset += excess;
    }
  }

  function queueCommit(c: CommitEntry): void {
    const key = commitKey(c.groupId, c.partition);
    const queued = pendingCommits.get(key);
    if (!queued || queued.nextOffset < c.nextOffset) pendingCommits.set(key, c);
  }

  function stopAppends(): void {
    appendsStopped = true;
    const dropped = pending;
    pending = [];
    const failure = new BackendUnavailableError("log", "embedded log closed");
    for (const request of dropped) request.reject(failure);
  }

  return {
    partitionCount,
    append(records) {
      if (appendsStopped) return Promise.reject(new BackendUnavailableError("log", "embedded log closed"));
      if (records.length === 0) return Promise.resolve([]);
      for (const record of records) {
        if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= partitionCount) {
          return Promise.reject(new RangeError(`embedded log: no partition ${record.partition}`));
        }
      }
      return new Promise<LogPosition[]>((resolve, reject) => {
        pending.push({ records, resolve, reject });
        paced.request();
      });
    },
    read(partition, fromOffset, maxRecords) {
      if (fromOffset >= endOffsets[partition]!) return [];
      const tail = tails[partition]!;
      if (fromOffset >= tail.firstOffset) {
        const at = fromOffset - tail.firstOffset;
        return tail.records.slice(at, at + maxRecords);
      }
      return selectRecords.all(partition, fromOffset, maxRecords).map((row) => ({
        partition,
        offset: row.record_offset,
        key: row.key,
        value: row.value,
      }));
    },
    waitForRecord(partition, offset, signal) {
      if (offset < endOffsets[partition]! || signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const wake = () => {
          waiters[partition]!.delete(wake);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        waiters[partition]!.add(wake);
        signal.addEventListener("abort", wake, { once: true });
      });
    },
    committedOffset(groupId, partition) {
      const stored = selectCommitted.get(groupId, partition)?.next_offset ?? 0;
      return Math.max(stored, pendingCommits.get(commitKey(groupId, partition))?.nextOffset ?? 0);
    },
    commit(groupId, partition, nextOffset) {
      queueCommit({ groupId, partition, nextOffset });
      paced.request();
    },
    stopAppends,
    async close() {
      if (closed) return;
      stopAppends();
      // Queued offset commits are written before the file closes.
      paced.runNow();
      closed = true;
      // The checkpointer's connection first: the last one to close checkpoints and removes the WAL.
      await checkpoints.release();
      db.close();
    },
  };
}

function checkPartitionCount(db: Database, path: string, partitionCount: number): void {
  const row = db
    .query<{ value: number }, [string]>("SELECT value FROM log_meta WHERE name = ?")
    .get("partition_count");
  if (row === null) {
    db.query("INSERT INTO log_meta (name, value) VALUES (?, ?)").run("partition_count", partitionCount);
  } else if (row.value !== partitionCount) {
    // Re-partitioning would move conversations between partitions and break their order.
    throw new Error(
      `embedded log ${path} was created with ${row.value} partitions, configured ${partitionCount}: ` +
        "the partition count is fixed at creation",
    );
  }
}

function loadEndOffsets(db: Database, partitionCount: number): number[] {
  const ends = new Array<number>(partitionCount).fill(0);
  const rows = db
    .query<{ partition_id: number; end_offset: number }, []>(
      "SELECT partition_id, max(record_offset) + 1 AS end_offset FROM log_records GROUP BY partition_id",
    )
    .all();
  for (const row of rows) ends[row.partition_id] = row.end_offset;
  return ends;
}
