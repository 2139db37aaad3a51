import type {
  Conversation,
  ConversationId,
  ConversationSummary,
  Device,
  DeviceId,
  Seq,
  StoredMessage,
  User,
  UserId,
  Watermarks,
} from "../domain/index.ts";

/**
 * The message store port: conversations, messages, dedup records, receipt
 * watermarks, device cursors and per-user conversation lists (DESIGN §7).
 * Cassandra in production, SQLite for the embedded default.
 *
 * Contract (checked by describeMessageStore):
 * - Every write is idempotent: repeating it, or running it from two workers
 *   for the same log record, leaves the same rows. Only the worker that owns a
 *   conversation's partition writes messages, dedup records and watermarks.
 * - Writes are durable when their promise resolves (the worker commits log
 *   offsets after that).
 * - Reads return messages ascending by seq.
 * - Failures of the backend reject with BackendUnavailableError.
 */
export interface MessageStore {
  /** Creates the conversation and both users' list entries if absent. */
  ensureConversation(conversation: Conversation): Promise<void>;
  getConversation(id: ConversationId): Promise<Conversation | undefined>;

  /** The seq stored under (conversation, clientMsgId), if any. */
  findDedup(conversationId: ConversationId, clientMsgId: string): Promise<Seq | undefined>;
  /** The highest message seq of the conversation strictly below `seq` (0 if none). */
  lastSeqBefore(conversationId: ConversationId, seq: Seq): Promise<Seq>;
  /** The highest message seq of the conversation (0 if empty). */
  headSeq(conversationId: ConversationId): Promise<Seq>;
  /**
   * Writes the message, its dedup record, and advances both participants'
   * list entries (last message, head) if `message.seq` is above their head.
   */
  appendMessage(message: StoredMessage): Promise<void>;

  /** Messages with seq > afterSeq, oldest first, at most `limit`. */
  messagesAfter(conversationId: ConversationId, afterSeq: Seq, limit: number): Promise<StoredMessage[]>;
  /** The newest `limit` messages with seq < beforeSeq, returned oldest first. */
  messagesBefore(conversationId: ConversationId, beforeSeq: Seq, limit: number): Promise<StoredMessage[]>;

  /**
   * Raises the user's watermarks to at least the given values (each is a
   * max, never a decrease; read also raises delivered). Returns values the
   * store now holds at least: the stored registers where reading them back
   * is free (SQLite), else what this call wrote (Cassandra saves the read;
   * the partition's owner knows what it stored before).
   */
  advanceWatermarks(
    conversationId: ConversationId,
    userId: UserId,
    to: { deliveredSeq?: Seq; readSeq?: Seq },
  ): Promise<Watermarks>;
  /** Watermarks of every participant that has any (absent = zeros). */
  getWatermarks(conversationId: ConversationId): Promise<Map<UserId, Watermarks>>;

  /** Raises the device's cursor for the conversation (max). */
  advanceDeviceCursor(deviceId: DeviceId, conversationId: ConversationId, seq: Seq): Promise<void>;
  getDeviceCursors(deviceId: DeviceId): Promise<Map<ConversationId, Seq>>;

  /** The user's conversations, most recent activity first. */
  listConversations(userId: UserId): Promise<ConversationSummary[]>;

  close(): Promise<void>;
}

/**
 * Accounts for the development auth service: users and their devices.
 * `createUser` rejects with DomainError USERNAME_TAKEN when the name exists.
 */
export interface AccountStore {
  createUser(user: User): Promise<void>;
  findUserByName(username: string): Promise<User | undefined>;
  getUser(id: UserId): Promise<User | undefined>;
  createDevice(device: Device): Promise<void>;
  getDevice(id: DeviceId): Promise<Device | undefined>;
}
