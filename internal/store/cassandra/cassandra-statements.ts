import {
  asConversationId,
  asDeviceId,
  asUserId,
  type Conversation,
  type Device,
  type StoredMessage,
  type User,
} from "../../domain/index.ts";
import type { CqlRow } from "./cql-session.ts";

/**
 * Every statement the store runs. All are prepared (the session's default)
 * and bind every value, so the driver routes each to a replica of its
 * partition. `USING TIMESTAMP ?` takes a version from write-versions.ts.
 */
/** A list entry's head: the conversation's last message, copied. */
const HEAD_COLUMNS =
  "head_seq = ?, last_activity_ms = ?, last_prev_seq = ?, last_sender_user_id = ?, last_sender_device_id = ?, " +
  "last_client_msg_id = ?, last_text = ?, last_sent_at_ms = ?";

export const CQL = {
  insertConversation:
    "INSERT INTO conversations (id, user_a, user_b, created_at_ms) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
  getConversation: "SELECT id, user_a, user_b, created_at_ms FROM conversations WHERE id = ?",
  createListEntry:
    "UPDATE user_conversations USING TIMESTAMP ? SET user_a = ?, user_b = ?, created_at_ms = ? " +
    "WHERE user_id = ? AND conversation_id = ?",

  insertMessage:
    "INSERT INTO messages (conversation_id, bucket, seq, prev_seq, sender_user_id, sender_device_id, " +
    "client_msg_id, text, sent_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?",
  insertBucket: "INSERT INTO message_buckets (conversation_id, bucket) VALUES (?, ?) USING TIMESTAMP ?",
  insertDedup: "INSERT INTO dedup (conversation_id, client_msg_id, seq) VALUES (?, ?, ?) USING TIMESTAMP ?",
  findDedup: "SELECT seq FROM dedup WHERE conversation_id = ? AND client_msg_id = ?",
  advanceHead: `UPDATE user_conversations USING TIMESTAMP ? SET ${HEAD_COLUMNS} WHERE user_id = ? AND conversation_id = ?`,
  // The recipient's entry: the head and the last incoming seq in one statement (same row, same timestamp).
  advanceHeadIncoming:
    `UPDATE user_conversations USING TIMESTAMP ? SET ${HEAD_COLUMNS}, last_in_seq = ? WHERE user_id = ? AND conversation_id = ?`,

  // Bucket directory, both directions, bounded on both sides.
  bucketsDown:
    "SELECT bucket FROM message_buckets WHERE conversation_id = ? AND bucket <= ? AND bucket >= ? LIMIT ?",
  bucketsUp:
    "SELECT bucket FROM message_buckets WHERE conversation_id = ? AND bucket >= ? AND bucket <= ? " +
    "ORDER BY bucket ASC LIMIT ?",
  messagesDown:
    "SELECT conversation_id, seq, prev_seq, sender_user_id, sender_device_id, client_msg_id, text, sent_at_ms " +
    "FROM messages WHERE conversation_id = ? AND bucket = ? AND seq < ? LIMIT ?",
  messagesUp:
    "SELECT conversation_id, seq, prev_seq, sender_user_id, sender_device_id, client_msg_id, text, sent_at_ms " +
    "FROM messages WHERE conversation_id = ? AND bucket = ? AND seq > ? ORDER BY seq ASC LIMIT ?",
  seqBelow: "SELECT seq FROM messages WHERE conversation_id = ? AND bucket = ? AND seq < ? LIMIT 1",
  sendersInRange:
    "SELECT sender_user_id FROM messages WHERE conversation_id = ? AND bucket = ? AND seq > ? AND seq <= ? LIMIT ?",

  setDelivered: "UPDATE watermarks USING TIMESTAMP ? SET delivered_seq = ? WHERE conversation_id = ? AND user_id = ?",
  setRead: "UPDATE watermarks USING TIMESTAMP ? SET read_seq = ? WHERE conversation_id = ? AND user_id = ?",
  getWatermarks: "SELECT user_id, delivered_seq, read_seq FROM watermarks WHERE conversation_id = ?",
  setOwnDelivered:
    "UPDATE user_conversations USING TIMESTAMP ? SET own_delivered_seq = ? WHERE user_id = ? AND conversation_id = ?",
  setOwnRead:
    "UPDATE user_conversations USING TIMESTAMP ? SET own_read_seq = ? WHERE user_id = ? AND conversation_id = ?",
  setPeerDelivered:
    "UPDATE user_conversations USING TIMESTAMP ? SET peer_delivered_seq = ? WHERE user_id = ? AND conversation_id = ?",
  setPeerRead:
    "UPDATE user_conversations USING TIMESTAMP ? SET peer_read_seq = ? WHERE user_id = ? AND conversation_id = ?",

  advanceCursor: "UPDATE device_cursors USING TIMESTAMP ? SET seq = ? WHERE device_id = ? AND conversation_id = ?",
  getCursors: "SELECT conversation_id, seq FROM device_cursors WHERE device_id = ?",

  listEntries:
    "SELECT conversation_id, user_a, user_b, created_at_ms, head_seq, last_activity_ms, last_prev_seq, " +
    "last_sender_user_id, last_sender_device_id, last_client_msg_id, last_text, last_sent_at_ms, last_in_seq, " +
    "own_delivered_seq, own_read_seq, peer_delivered_seq, peer_read_seq FROM user_conversations WHERE user_id = ?",

  claimUsername: "INSERT INTO users_by_name (username, user_id) VALUES (?, ?) IF NOT EXISTS",
  userIdByName: "SELECT user_id FROM users_by_name WHERE username = ?",
  insertUser: "INSERT INTO users (id, username, password_hash, created_at_ms) VALUES (?, ?, ?, ?)",
  getUser: "SELECT id, username, password_hash, created_at_ms FROM users WHERE id = ?",
  insertDevice: "INSERT INTO devices (id, user_id, name, created_at_ms) VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
  getDevice: "SELECT id, user_id, name, created_at_ms FROM devices WHERE id = ?",
} as const;

/** A bigint (driver Long) or null column as a number; null is 0. Values stay below 2^53. */
export function num(row: CqlRow, column: string): number {
  const v: unknown = row.get(column);
  if (v === null || v === undefined) return 0;
  if (typeof v === "number") return v;
  return (v as { toNumber(): number }).toNumber();
}

export function str(row: CqlRow, column: string): string {
  const v: unknown = row.get(column);
  return typeof v === "string" ? v : "";
}

export const toMessage = (r: CqlRow): StoredMessage => ({
  conversationId: asConversationId(str(r, "conversation_id")),
  seq: num(r, "seq"),
  prevSeq: num(r, "prev_seq"),
  senderUserId: asUserId(str(r, "sender_user_id")),
  senderDeviceId: asDeviceId(str(r, "sender_device_id")),
  clientMsgId: str(r, "client_msg_id"),
  text: str(r, "text"),
  sentAtMs: num(r, "sent_at_ms"),
});

export const toConversation = (r: CqlRow): Conversation => ({
  id: asConversationId(str(r, "id")),
  userA: asUserId(str(r, "user_a")),
  userB: asUserId(str(r, "user_b")),
  createdAtMs: num(r, "created_at_ms"),
});

export const toUser = (r: CqlRow): User => ({
  id: asUserId(str(r, "id")),
  username: str(r, "username"),
  passwordHash: str(r, "password_hash"),
  createdAtMs: num(r, "created_at_ms"),
});

export const toDevice = (r: CqlRow): Device => ({
  id: asDeviceId(str(r, "id")),
  userId: asUserId(str(r, "user_id")),
  name: str(r, "name"),
  createdAtMs: num(r, "created_at_ms"),
});
