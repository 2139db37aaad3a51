import { Database, SQLiteError } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  asConversationId,
  asUserId,
  BackendUnavailableError,
  DomainError,
  type Conversation,
  type ConversationId,
  type ConversationSummary,
  type DeviceId,
  type Seq,
  type StoredMessage,
  type UserId,
  type Watermarks,
} from "../../domain/index.ts";
import { checkpointInBackground } from "../../sqlite/wal-checkpoints.ts";
import { bucketOf, type AccountStore, type MessageStore } from "../index.ts";
import { createGroupCommit } from "./group-commit.ts";
import { applySchema } from "./sqlite-schema.ts";
import { prepareStatements, toConversation, toDevice, toMessage, toUser, type ListRow } from "./sqlite-statements.ts";

/** Where the SQLite store keeps its data. */
export interface SqliteStoreConfig {
  /** A file path (its directory is created if missing) or ":memory:". */
  readonly path: string;
  /** How long a write waits for another connection's lock (default 5000). */
  readonly busyTimeoutMs?: number;
  /** Least time between two group commits of the hot writes (default 0; see createPacedFlush). */
  readonly commitIntervalMs?: number;
  /** Checkpoints in a worker thread this often (default 0: SQLite's own, in the writing thread; see checkpointInBackground). */
  readonly checkpointIntervalMs?: number;
}

/** A write that goes through the group commit. */
type HotWrite =
  | { readonly kind: "append"; readonly message: StoredMessage }
  | { readonly kind: "cursor"; readonly deviceId: DeviceId; readonly conversationId: ConversationId; readonly seq: Seq }
  | {
      readonly kind: "watermarks";
      readonly conversationId: ConversationId;
      readonly userId: UserId;
      readonly deliveredSeq: Seq;
      readonly readSeq: Seq;
    };

/** Optional collaborators; the logger is told when the schema was migrated. */
export interface SqliteStoreDeps {
  readonly logger?: { info(fields: object, message: string): void };
}

const BACKEND = "sqlite";

/**
 * The embedded message and account store (DESIGN §7 model on SQLite). Opens
 * the database, migrates its schema and compiles every statement before it
 * returns, so no call pays for schema work. Throws if the file cannot be
 * opened or migrated.
 *
 * bun:sqlite is synchronous: each call finishes its transaction before the
 * returned promise settles, which is what makes "durable when resolved" hold.
 * appendMessage, advanceDeviceCursor and advanceWatermarks calls issued in
 * the same tick share one transaction (see group-commit.ts); each still
 * resolves only after that commit.
 */
export function createSqliteStore(
  cfg: SqliteStoreConfig,
  deps: SqliteStoreDeps = {},
): MessageStore & AccountStore {
  const inMemory = cfg.path === ":memory:" || cfg.path === "";
  if (!inMemory) mkdirSync(dirname(cfg.path), { recursive: true });
  const db = new Database(cfg.path, { create: true, readwrite: true, strict: true });
  const stmts = openStatements(db, cfg, deps);
  const checkpoints = checkpointInBackground(db, cfg.path, cfg.checkpointIntervalMs ?? 0);
  let closed = false;

  /** Runs a synchronous store operation, mapping SQLite failures to the port's error. */
  const exec = <T>(op: string, body: () => T): T => {
    if (closed) throw new BackendUnavailableError(BACKEND, `${op}: store is closed`);
    try {
      return body();
    } catch (error) {
      throw toPortError(op, error);
    }
  };

  // The hot writes of the worker, grouped per tick into one transaction.
  // Immediate: take the write lock at BEGIN, so a second process waits in
  // busy_timeout instead of failing on a lock upgrade mid-transaction.
  const writeAll = db.transaction((writes: readonly HotWrite[]): (Watermarks | undefined)[] =>
    writes.map((w) => {
      switch (w.kind) {
        case "append": {
          const m = w.message;
          stmts.insertMessage.run(
            m.conversationId, bucketOf(m.seq), m.seq, m.prevSeq, m.senderUserId,
            m.senderDeviceId, m.clientMsgId, m.text, m.sentAtMs,
          );
          stmts.insertDedup.run(m.conversationId, m.clientMsgId, m.seq);
          stmts.advanceListEntries.run(m.seq, m.sentAtMs, m.conversationId);
          return undefined;
        }
        case "cursor":
          stmts.advanceDeviceCursor.run(w.deviceId, w.conversationId, w.seq);
          return undefined;
        case "watermarks": {
          const row = stmts.advanceWatermarks.get(w.conversationId, w.userId, w.deliveredSeq, w.readSeq);
          return { deliveredSeq: row?.delivered_seq ?? w.deliveredSeq, readSeq: row?.read_seq ?? w.readSeq };
        }
      }
    }),
  ).immediate;
  const writes = createGroupCommit(writeAll, (error) => toPortError("write", error), cfg.commitIntervalMs);
  const submit = (op: string, w: HotWrite): Promise<Watermarks | undefined> => {
    if (closed) return Promise.reject(new BackendUnavailableError(BACKEND, `${op}: store is closed`));
    return writes.submit(w);
  };

  const ensure = db.transaction((c: Conversation) => {
    stmts.insertConversation.run(c.id, c.userA, c.userB, c.createdAtMs);
    stmts.insertListEntry.run(c.userA, c.id, c.userB, c.createdAtMs);
    stmts.insertListEntry.run(c.userB, c.id, c.userA, c.createdAtMs);
  }).immediate;

  return {
    async ensureConversation(conversation) {
      exec("ensureConversation", () => ensure(conversation));
    },
    async getConversation(id) {
      const row = exec("getConversation", () => stmts.getConversation.get(id));
      return row ? toConversation(row) : undefined;
    },
    async findDedup(conversationId, clientMsgId) {
      return exec("findDedup", () => stmts.findDedup.get(conversationId, clientMsgId))?.seq;
    },
    async lastSeqBefore(conversationId, seq) {
      return exec("lastSeqBefore", () => stmts.lastSeqBefore.get(conversationId, bucketOf(seq), seq))?.seq ?? 0;
    },
    async headSeq(conversationId) {
      return exec("headSeq", () => stmts.headSeq.get(conversationId))?.seq ?? 0;
    },
    async appendMessage(message) {
      await submit("appendMessage", { kind: "append", message });
    },
    async messagesAfter(conversationId, afterSeq, limit) {
      const n = rowLimit(limit);
      if (n === 0) return [];
      const rows = exec("messagesAfter", () =>
        stmts.messagesAfter.all(conversationId, bucketOf(Math.max(0, afterSeq)), afterSeq, n),
      );
      return rows.map(toMessage);
    },
    async messagesBefore(conversationId, beforeSeq, limit) {
      const n = rowLimit(limit);
      if (n === 0) return [];
      const rows = exec("messagesBefore", () =>
        stmts.messagesBefore.all(conversationId, bucketOf(beforeSeq), beforeSeq, n),
      );
      return rows.reverse().map(toMessage);
    },
    async advanceWatermarks(conversationId, userId, to) {
      const w = { kind: "watermarks", conversationId, userId, deliveredSeq: to.deliveredSeq ?? 0, readSeq: to.readSeq ?? 0 } as const;
      return (await submit("advanceWatermarks", w))!;
    },
    async getWatermarks(conversationId) {
      const rows = exec("getWatermarks", () => stmts.getWatermarks.all(conversationId));
      return new Map<UserId, Watermarks>(
        rows.map((r) => [asUserId(r.user_id), { deliveredSeq: r.delivered_seq, readSeq: r.read_seq }]),
      );
    },
    async advanceDeviceCursor(deviceId, conversationId, seq) {
      await submit("advanceDeviceCursor", { kind: "cursor", deviceId, conversationId, seq });
    },
    async getDeviceCursors(deviceId) {
      const rows = exec("getDeviceCursors", () => stmts.getDeviceCursors.all(deviceId));
      return new Map<ConversationId, Seq>(rows.map((r) => [asConversationId(r.conversation_id), r.seq]));
    },
    async listConversations(userId) {
      return exec("listConversations", () => stmts.listConversations.all(userId)).map(toSummary);
    },
    async createUser(user) {
      exec("createUser", () => {
        try {
          stmts.insertUser.run(user.id, user.username, user.passwordHash, user.createdAtMs);
        } catch (error) {
          if (isUsernameConflict(error)) {
            throw new DomainError("conflict", "USERNAME_TAKEN", "username is taken", { cause: error });
          }
          throw error;
        }
      });
    },
    async findUserByName(username) {
      const row = exec("findUserByName", () => stmts.findUserByName.get(username));
      return row ? toUser(row) : undefined;
    },
    async getUser(id) {
      const row = exec("getUser", () => stmts.getUser.get(id));
      return row ? toUser(row) : undefined;
    },
    async createDevice(device) {
      exec("createDevice", () => stmts.insertDevice.run(device.id, device.userId, device.name, device.createdAtMs));
    },
    async getDevice(id) {
      const row = exec("getDevice", () => stmts.getDevice.get(id));
      return row ? toDevice(row) : undefined;
    },
    async close() {
      if (closed) return;
      writes.flush();
      closed = true;
      // The checkpointer's connection first: the last one to close checkpoints and removes the WAL.
      await checkpoints.release();
      // close(true) finalizes the prepared statements too; without it they
      // would keep the connection (and the WAL) open until collected.
      db.close(true);
    },
  };
}

/** Migrates and compiles; closes the connection again if either fails. */
function openStatements(db: Database, cfg: SqliteStoreConfig, deps: SqliteStoreDeps) {
  try {
    const { from, to } = applySchema(db, cfg.busyTimeoutMs ?? 5_000);
    if (from !== to) deps.logger?.info({ path: cfg.path, from, to }, "sqlite store schema migrated");
    return prepareStatements(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

function toPortError(op: string, error: unknown): unknown {
  if (!(error instanceof SQLiteError)) return error;
  return new BackendUnavailableError(BACKEND, `${op}: ${error.code ?? error.message}`, { cause: error });
}

/** SQLite treats a negative LIMIT as "no limit"; the port means "nothing". */
function rowLimit(limit: number): number {
  if (Number.isNaN(limit)) return 0;
  return Math.max(0, Math.min(Math.floor(limit), Number.MAX_SAFE_INTEGER));
}

function isUsernameConflict(error: unknown): boolean {
  return (
    error instanceof SQLiteError &&
    error.code === "SQLITE_CONSTRAINT_UNIQUE" &&
    error.message.includes("users.username")
  );
}

function toSummary(r: ListRow): ConversationSummary {
  return {
    conversation: toConversation(r),
    peerUserId: asUserId(r.peer_user_id),
    headSeq: r.head_seq,
    lastMessage:
      r.m_seq === null
        ? undefined
        : toMessage({
            conversation_id: r.id,
            seq: r.m_seq,
            prev_seq: r.m_prev_seq,
            sender_user_id: r.m_sender_user_id,
            sender_device_id: r.m_sender_device_id,
            client_msg_id: r.m_client_msg_id,
            text: r.m_text,
            sent_at_ms: r.m_sent_at_ms,
          }),
    unreadCount: r.unread,
    own: { deliveredSeq: r.own_delivered, readSeq: r.own_read },
    peer: { deliveredSeq: r.peer_delivered, readSeq: r.peer_read },
  };
}
