import type { Database } from "bun:sqlite";

/**
 * Versioned schema of the SQLite store. Entry `i` migrates from version `i`
 * to `i + 1`; PRAGMA user_version records how many have been applied. Never
 * edit a released entry: append a new one.
 *
 * The tables mirror the Cassandra model of DESIGN §7 (same keys, same
 * denormalisation, no joins needed on the hot path), so both adapters read and
 * write the same shapes:
 * - messages: partition (conversation_id, bucket), clustering seq. Rows are
 *   immutable and byte-identical whoever writes them, so inserts ignore
 *   conflicts instead of overwriting.
 * - dedup: (conversation_id, client_msg_id) -> seq of the first copy.
 * - user_conversations: one list entry per participant; head_seq is also the
 *   seq of the last message (the head is the highest message seq), and
 *   last_activity_ms is that message's sent time (creation time until then).
 * - watermarks, device_cursors: monotonic counters, only ever raised.
 * The small-row tables are WITHOUT ROWID: stored clustered by their primary
 * key, like a Cassandra partition, with no separate rowid b-tree. messages is
 * the exception: its rows carry bodies, and clustering them by conversation
 * scatters each insert into a different page of a wide-row b-tree (measured
 * at a third of the insert rate); as a rowid table new rows append at the end
 * and only the small (conversation_id, bucket, seq) index is scattered.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE conversations (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_a        TEXT    NOT NULL,
    user_b        TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE messages (
    conversation_id  TEXT    NOT NULL,
    bucket           INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    prev_seq         INTEGER NOT NULL,
    sender_user_id   TEXT    NOT NULL,
    sender_device_id TEXT    NOT NULL,
    client_msg_id    TEXT    NOT NULL,
    text             TEXT    NOT NULL,
    sent_at_ms       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, bucket, seq)
  );

  CREATE TABLE dedup (
    conversation_id TEXT    NOT NULL,
    client_msg_id   TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, client_msg_id)
  ) WITHOUT ROWID;

  CREATE TABLE user_conversations (
    user_id          TEXT    NOT NULL,
    conversation_id  TEXT    NOT NULL,
    peer_user_id     TEXT    NOT NULL,
    head_seq         INTEGER NOT NULL,
    last_activity_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
  ) WITHOUT ROWID;

  CREATE TABLE watermarks (
    conversation_id TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    delivered_seq   INTEGER NOT NULL,
    read_seq        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
  ) WITHOUT ROWID;

  CREATE TABLE device_cursors (
    device_id       TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (device_id, conversation_id)
  ) WITHOUT ROWID;

  CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE devices (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

const CACHE_KIB = 64 * 1024;

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Sets connection pragmas and applies pending migrations in one transaction
 * together with the version bump, so a crash mid-migration leaves the
 * previous version intact. Returns the version found and the version now.
 */
export function applySchema(db: Database, busyTimeoutMs: number): { from: number; to: number } {
  // WAL lets readers run beside the writer; synchronous=NORMAL syncs at
  // checkpoints instead of every commit: a commit survives a process crash
  // (what offset commits rely on) though not a power cut between checkpoints.
  // busy_timeout first: switching to WAL itself may wait for another process.
  db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  // Dedup keys are random UUIDs, so dedup inserts touch pages all over their
  // b-tree; SQLite's 2 MiB default cache would re-read them for every insert.
  db.run(`PRAGMA cache_size = -${CACHE_KIB}`);

  // Read the version inside the write transaction: two processes opening the
  // same file at once then migrate one after the other, never both.
  const migrate = db.transaction(() => {
    const from = readVersion(db);
    if (from > SCHEMA_VERSION) {
      throw new Error(`database schema version ${from} is newer than this build (${SCHEMA_VERSION})`);
    }
    for (let version = from; version < SCHEMA_VERSION; version++) {
      db.run(MIGRATIONS[version] ?? "");
    }
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    return { from, to: SCHEMA_VERSION };
  });
  return migrate.immediate();
}

function readVersion(db: Database): number {
  const row = db.query<{ user_version: number }, []>("PRAGMA user_version").get();
  return row?.user_version ?? 0;
}
