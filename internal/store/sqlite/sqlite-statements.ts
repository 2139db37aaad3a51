import type { Database } from "bun:sqlite";
import {
  asConversationId,
  asDeviceId,
  asUserId,
  type Conversation,
  type Device,
  type StoredMessage,
  type User,
} from "../../domain/index.ts";
import { BUCKET_SPAN } from "../index.ts";

/** A messages row as selected by MESSAGE_COLUMNS. */
export interface MessageRow {
  conversation_id: string;
  seq: number;
  prev_seq: number;
  sender_user_id: string;
  sender_device_id: string;
  client_msg_id: string;
  text: string;
  sent_at_ms: number;
}

export interface ConversationRow {
  id: string;
  user_a: string;
  user_b: string;
  created_at_ms: number;
}

/** One row of the conversation list query; m_* are null when the head has no message. */
export interface ListRow extends ConversationRow {
  peer_user_id: string;
  head_seq: number;
  m_seq: number | null;
  m_prev_seq: number;
  m_sender_user_id: string;
  m_sender_device_id: string;
  m_client_msg_id: string;
  m_text: string;
  m_sent_at_ms: number;
  own_delivered: number;
  own_read: number;
  peer_delivered: number;
  peer_read: number;
  unread: number;
}

const MESSAGE_COLUMNS =
  "conversation_id, seq, prev_seq, sender_user_id, sender_device_id, client_msg_id, text, sent_at_ms";

// Every message query names the bucket range as well as the seq range, like
// the Cassandra adapter must. Because bucket is monotonic in seq, ordering by
// (bucket, seq) is ordering by seq, and the primary key index serves it.
const LIST_SQL = `
SELECT c.id, c.user_a, c.user_b, c.created_at_ms, uc.peer_user_id, uc.head_seq,
  m.seq AS m_seq, m.prev_seq AS m_prev_seq, m.sender_user_id AS m_sender_user_id,
  m.sender_device_id AS m_sender_device_id, m.client_msg_id AS m_client_msg_id,
  m.text AS m_text, m.sent_at_ms AS m_sent_at_ms,
  COALESCE(ow.delivered_seq, 0) AS own_delivered, COALESCE(ow.read_seq, 0) AS own_read,
  COALESCE(pw.delivered_seq, 0) AS peer_delivered, COALESCE(pw.read_seq, 0) AS peer_read,
  (SELECT COUNT(*) FROM messages u
    WHERE u.conversation_id = uc.conversation_id
      AND u.bucket >= COALESCE(ow.read_seq, 0) / ${BUCKET_SPAN}
      AND u.seq > COALESCE(ow.read_seq, 0)
      AND u.sender_user_id = uc.peer_user_id) AS unread
FROM user_conversations uc
JOIN conversations c ON c.id = uc.conversation_id
LEFT JOIN messages m ON m.conversation_id = uc.conversation_id
  AND m.bucket = uc.head_seq / ${BUCKET_SPAN} AND m.seq = uc.head_seq
LEFT JOIN watermarks ow ON ow.conversation_id = uc.conversation_id AND ow.user_id = uc.user_id
LEFT JOIN watermarks pw ON pw.conversation_id = uc.conversation_id AND pw.user_id = uc.peer_user_id
WHERE uc.user_id = ?1
ORDER BY uc.last_activity_ms DESC, c.created_at_ms DESC, c.id`;

type Seqs = { seq: number };

/**
 * Compiles every statement the store runs, once at open: the hot path
 * (appendMessage) then only binds and steps.
 */
export function prepareStatements(db: Database) {
  return {
    insertConversation: db.prepare<never, [string, string, string, number]>(
      "INSERT INTO conversations (id, user_a, user_b, created_at_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    ),
    insertListEntry: db.prepare<never, [string, string, string, number]>(
      `INSERT INTO user_conversations (user_id, conversation_id, peer_user_id, head_seq, last_activity_ms)
       VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT DO NOTHING`,
    ),
    getConversation: db.prepare<ConversationRow, [string]>(
      "SELECT id, user_a, user_b, created_at_ms FROM conversations WHERE id = ?1",
    ),
    findDedup: db.prepare<Seqs, [string, string]>(
      "SELECT seq FROM dedup WHERE conversation_id = ?1 AND client_msg_id = ?2",
    ),
    lastSeqBefore: db.prepare<Seqs, [string, number, number]>(
      `SELECT seq FROM messages WHERE conversation_id = ?1 AND bucket <= ?2 AND seq < ?3
       ORDER BY bucket DESC, seq DESC LIMIT 1`,
    ),
    headSeq: db.prepare<Seqs, [string]>(
      "SELECT seq FROM messages WHERE conversation_id = ?1 ORDER BY bucket DESC, seq DESC LIMIT 1",
    ),
    insertMessage: db.prepare<never, [string, number, number, number, string, string, string, string, number]>(
      `INSERT INTO messages (conversation_id, bucket, seq, prev_seq, sender_user_id, sender_device_id,
         client_msg_id, text, sent_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING`,
    ),
    insertDedup: db.prepare<never, [string, string, number]>(
      "INSERT INTO dedup (conversation_id, client_msg_id, seq) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    ),
    // "head_seq < ?1" makes the list entries a max register: a replayed or
    // zombie write of an older message never moves them back.
    advanceListEntries: db.prepare<never, [number, number, string]>(
      `UPDATE user_conversations SET head_seq = ?1, last_activity_ms = ?2
       WHERE conversation_id = ?3 AND head_seq < ?1 AND user_id IN (
         SELECT user_a FROM conversations WHERE id = ?3
         UNION ALL SELECT user_b FROM conversations WHERE id = ?3)`,
    ),
    messagesAfter: db.prepare<MessageRow, [string, number, number, number]>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND bucket >= ?2 AND seq > ?3
       ORDER BY bucket, seq LIMIT ?4`,
    ),
    messagesBefore: db.prepare<MessageRow, [string, number, number, number]>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND bucket <= ?2 AND seq < ?3
       ORDER BY bucket DESC, seq DESC LIMIT ?4`,
    ),
    // max() per column, and read also raises delivered (read implies delivered).
    advanceWatermarks: db.prepare<{ delivered_seq: number; read_seq: number }, [string, string, number, number]>(
      `INSERT INTO watermarks (conversation_id, user_id, delivered_seq, read_seq) VALUES (?1, ?2, max(?3, ?4), ?4)
       ON CONFLICT DO UPDATE SET delivered_seq = max(delivered_seq, excluded.delivered_seq),
         read_seq = max(read_seq, excluded.read_seq)
       RETURNING delivered_seq, read_seq`,
    ),
    getWatermarks: db.prepare<{ user_id: string; delivered_seq: number; read_seq: number }, [string]>(
      "SELECT user_id, delivered_seq, read_seq FROM watermarks WHERE conversation_id = ?1",
    ),
    advanceDeviceCursor: db.prepare<never, [string, string, number]>(
      `INSERT INTO device_cursors (device_id, conversation_id, seq) VALUES (?1, ?2, ?3)
       ON CONFLICT DO UPDATE SET seq = max(seq, excluded.seq)`,
    ),
    getDeviceCursors: db.prepare<{ conversation_id: string; seq: number }, [string]>(
      "SELECT conversation_id, seq FROM device_cursors WHERE device_id = ?1",
    ),
    listConversations: db.prepare<ListRow, [string]>(LIST_SQL),
    insertUser: db.prepare<never, [string, string, string, number]>(
      "INSERT INTO users (id, username, password_hash, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
    ),
    getUser: db.prepare<UserRow, [string]>("SELECT id, username, password_hash, created_at_ms FROM users WHERE id = ?1"),
    findUserByName: db.prepare<UserRow, [string]>(
      "SELECT id, username, password_hash, created_at_ms FROM users WHERE username = ?1",
    ),
    // A retried registration of the same device id is a no-op, like every other write.
    insertDevice: db.prepare<never, [string, string, string, number]>(
      "INSERT INTO devices (id, user_id, name, created_at_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    ),
    getDevice: db.prepare<DeviceRow, [string]>("SELECT id, user_id, name, created_at_ms FROM devices WHERE id = ?1"),
  };
}

/** The compiled statements of one open database. */
export type Statements = ReturnType<typeof prepareStatements>;

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at_ms: number;
}

export interface DeviceRow {
  id: string;
  user_id: string;
  name: string;
  created_at_ms: number;
}

export const toMessage = (r: MessageRow): StoredMessage => ({
  conversationId: asConversationId(r.conversation_id),
  seq: r.seq,
  prevSeq: r.prev_seq,
  senderUserId: asUserId(r.sender_user_id),
  senderDeviceId: asDeviceId(r.sender_device_id),
  clientMsgId: r.client_msg_id,
  text: r.text,
  sentAtMs: r.sent_at_ms,
});

export const toConversation = (r: ConversationRow): Conversation => ({
  id: asConversationId(r.id),
  userA: asUserId(r.user_a),
  userB: asUserId(r.user_b),
  createdAtMs: r.created_at_ms,
});

export const toUser = (r: UserRow): User => ({
  id: asUserId(r.id),
  username: r.username,
  passwordHash: r.password_hash,
  createdAtMs: r.created_at_ms,
});

export const toDevice = (r: DeviceRow): Device => ({
  id: asDeviceId(r.id),
  userId: asUserId(r.user_id),
  name: r.name,
  createdAtMs: r.created_at_ms,
});
