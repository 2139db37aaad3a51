import { Database } from "bun:sqlite";
import type {
  ChatMessage,
  ClientStorage,
  ConversationMeta,
  DeviceRecord,
  LocalSend,
  LocalSendState,
  ReceiptRecord,
} from "../index.ts";

/** Where the SQLite storage lives. */
export interface SqliteStorageConfig {
  /** Database file; `:memory:` for a throwaway database. */
  readonly path: string;
}

const schema = `
CREATE TABLE IF NOT EXISTS local_sends (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  client_msg_id TEXT NOT NULL UNIQUE,
  conversation_id TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  state TEXT NOT NULL,
  seq INTEGER,
  failure TEXT
);
CREATE TABLE IF NOT EXISTS messages (
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  prev_seq INTEGER NOT NULL,
  sender_user_id TEXT NOT NULL,
  sender_device_id TEXT NOT NULL,
  client_msg_id TEXT NOT NULL,
  text TEXT NOT NULL,
  sent_at_ms INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (conversation_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS receipts (
  conversation_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  delivered_seq INTEGER NOT NULL,
  read_seq INTEGER NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conversations (
  conversation_id TEXT PRIMARY KEY,
  peer_user_id TEXT NOT NULL,
  peer_username TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  user_id TEXT NOT NULL,
  username TEXT NOT NULL,
  device_id TEXT NOT NULL,
  token TEXT
);
`;

interface SendRow {
  client_msg_id: string;
  conversation_id: string;
  text: string;
  created_at_ms: number;
  state: LocalSendState;
  seq: number | null;
  failure: string | null;
}

interface MessageRow {
  conversation_id: string;
  seq: number;
  prev_seq: number;
  sender_user_id: string;
  sender_device_id: string;
  client_msg_id: string;
  text: string;
  sent_at_ms: number;
}

const sendFromRow = (row: SendRow): LocalSend => ({
  clientMsgId: row.client_msg_id,
  conversationId: row.conversation_id,
  text: row.text,
  createdAtMs: row.created_at_ms,
  state: row.state,
  ...(row.seq === null ? {} : { seq: row.seq }),
  ...(row.failure === null ? {} : { failure: row.failure }),
});

const messageFromRow = (row: MessageRow): ChatMessage => ({
  conversationId: row.conversation_id,
  seq: row.seq,
  prevSeq: row.prev_seq,
  senderUserId: row.sender_user_id,
  senderDeviceId: row.sender_device_id,
  clientMsgId: row.client_msg_id,
  text: row.text,
  sentAtMs: row.sent_at_ms,
});

/**
 * Client storage in a SQLite file (bun:sqlite): a device restarted as a new
 * process with the same file keeps its outbox, cursors and messages. Lives
 * outside the SDK's index so browser bundles never pull in bun:sqlite.
 */
export function createSqliteStorage(cfg: SqliteStorageConfig): ClientStorage {
  const db = new Database(cfg.path, { create: true });
  // WAL with synchronous=NORMAL: a commit survives a process crash (what a
  // restarted device needs) without an fsync per stored message.
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA busy_timeout = 5000");
  db.transaction(() => {
    for (const statement of schema.split(";")) if (statement.trim()) db.run(statement);
  })();

  const sendColumns = "client_msg_id, conversation_id, text, created_at_ms, state, seq, failure";
  const insertMessage = db.query<unknown, [string, number, number, string, string, string, string, number]>(
    `INSERT OR IGNORE INTO messages (conversation_id, seq, prev_seq, sender_user_id, sender_device_id,
       client_msg_id, text, sent_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const settleSend = db.query<unknown, [string, string]>(
    "DELETE FROM local_sends WHERE client_msg_id = ? AND conversation_id = ?",
  );
  const putMessages = db.transaction((batch: readonly ChatMessage[]) => {
    for (const m of batch) {
      insertMessage.run(m.conversationId, m.seq, m.prevSeq, m.senderUserId, m.senderDeviceId, m.clientMsgId, m.text, m.sentAtMs);
      settleSend.run(m.clientMsgId, m.conversationId);
    }
  });
  const resetConversation = db.transaction((conversationId: string) => {
    for (const table of ["messages", "cursors", "receipts"]) {
      db.run(`DELETE FROM ${table} WHERE conversation_id = ?`, [conversationId]);
    }
  });

  return {
    async enqueueSend(send) {
      db.run(
        `INSERT OR IGNORE INTO local_sends (client_msg_id, conversation_id, text, created_at_ms, state)
         VALUES (?, ?, ?, ?, 'queued')`,
        [send.clientMsgId, send.conversationId, send.text, send.createdAtMs],
      );
    },
    async listOutbox() {
      const rows = db
        .query<SendRow, []>(`SELECT ${sendColumns} FROM local_sends WHERE state = 'queued' ORDER BY position`)
        .all();
      return rows.map(sendFromRow);
    },
    async markSendAccepted(clientMsgId, seq) {
      db.run(
        `UPDATE local_sends SET state = 'accepted', seq = COALESCE(?, seq)
         WHERE client_msg_id = ? AND state <> 'failed'`,
        [seq ?? null, clientMsgId],
      );
    },
    async markSendFailed(clientMsgId, failure) {
      db.run("UPDATE local_sends SET state = 'failed', failure = ? WHERE client_msg_id = ?", [failure, clientMsgId]);
    },
    async listLocalSends(conversationId) {
      const rows =
        conversationId === undefined
          ? db.query<SendRow, []>(`SELECT ${sendColumns} FROM local_sends ORDER BY position`).all()
          : db
              .query<SendRow, [string]>(`SELECT ${sendColumns} FROM local_sends WHERE conversation_id = ? ORDER BY position`)
              .all(conversationId);
      return rows.map(sendFromRow);
    },
    async removeLocalSend(clientMsgId) {
      db.run("DELETE FROM local_sends WHERE client_msg_id = ?", [clientMsgId]);
    },

    async putMessages(batch) {
      putMessages(batch);
    },
    async listMessages(conversationId) {
      const rows = db
        .query<MessageRow, [string]>("SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq")
        .all(conversationId);
      return rows.map(messageFromRow);
    },

    async setCursor(conversationId, seq) {
      db.run(
        "INSERT INTO cursors (conversation_id, seq) VALUES (?, ?) ON CONFLICT (conversation_id) DO UPDATE SET seq = excluded.seq",
        [conversationId, seq],
      );
    },
    async listCursors() {
      const rows = db.query<{ conversation_id: string; seq: number }, []>("SELECT conversation_id, seq FROM cursors").all();
      return new Map(rows.map((r) => [r.conversation_id, r.seq]));
    },

    async putReceipt(r) {
      db.run(
        `INSERT INTO receipts (conversation_id, user_id, delivered_seq, read_seq) VALUES (?, ?, ?, ?)
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET
           delivered_seq = MAX(delivered_seq, excluded.delivered_seq), read_seq = MAX(read_seq, excluded.read_seq)`,
        [r.conversationId, r.userId, r.deliveredSeq, r.readSeq],
      );
    },
    async listReceipts(conversationId) {
      const rows = db
        .query<{ user_id: string; delivered_seq: number; read_seq: number }, [string]>(
          "SELECT user_id, delivered_seq, read_seq FROM receipts WHERE conversation_id = ? ORDER BY user_id",
        )
        .all(conversationId);
      return rows.map(
        (r): ReceiptRecord => ({ conversationId, userId: r.user_id, deliveredSeq: r.delivered_seq, readSeq: r.read_seq }),
      );
    },

    async putConversation(meta) {
      db.run(
        `INSERT INTO conversations (conversation_id, peer_user_id, peer_username) VALUES (?, ?, ?)
         ON CONFLICT (conversation_id) DO UPDATE SET peer_user_id = excluded.peer_user_id, peer_username = excluded.peer_username`,
        [meta.conversationId, meta.peerUserId, meta.peerUsername],
      );
    },
    async listConversations() {
      const rows = db
        .query<{ conversation_id: string; peer_user_id: string; peer_username: string }, []>(
          "SELECT conversation_id, peer_user_id, peer_username FROM conversations ORDER BY conversation_id",
        )
        .all();
      return rows.map(
        (r): ConversationMeta => ({ conversationId: r.conversation_id, peerUserId: r.peer_user_id, peerUsername: r.peer_username }),
      );
    },

    async resetConversation(conversationId) {
      resetConversation(conversationId);
    },

    async putDevice(d) {
      db.run(
        `INSERT INTO device (id, user_id, username, device_id, token) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, username = excluded.username,
           device_id = excluded.device_id, token = excluded.token`,
        [d.userId, d.username, d.deviceId, d.token ?? null],
      );
    },
    async getDevice() {
      const row = db
        .query<{ user_id: string; username: string; device_id: string; token: string | null }, []>(
          "SELECT user_id, username, device_id, token FROM device WHERE id = 1",
        )
        .get();
      if (!row) return undefined;
      const device: DeviceRecord = { userId: row.user_id, username: row.username, deviceId: row.device_id };
      return row.token === null ? device : { ...device, token: row.token };
    },

    async close() {
      db.close();
    },
  };
}
