/**
 * Records the SDK keeps on the device, and the storage port that holds them.
 * Plain data (no protobuf classes), so every backend can store them as rows
 * or structured-clone them (IndexedDB).
 */

/** A message of a conversation as the server sequenced it. */
export interface ChatMessage {
  readonly conversationId: string;
  /** Position in the conversation's order; strictly increasing, not dense. */
  readonly seq: number;
  /** Seq of the previous message of the conversation (0 for the first). */
  readonly prevSeq: number;
  readonly senderUserId: string;
  readonly senderDeviceId: string;
  readonly clientMsgId: string;
  readonly text: string;
  readonly sentAtMs: number;
}

/**
 * Where an own message stands before its sequenced copy is held:
 * `queued` still has to reach the server (it is in the outbox), `accepted`
 * is durable in the server's log, `failed` was refused for good.
 */
export type LocalSendState = "queued" | "accepted" | "failed";

/** A message composed on this device whose sequenced copy is not held yet. */
export interface LocalSend {
  /** Idempotency key, chosen once and kept across every retry. */
  readonly clientMsgId: string;
  readonly conversationId: string;
  readonly text: string;
  readonly createdAtMs: number;
  readonly state: LocalSendState;
  /** The seq the server assigned, once a SendResult told it. */
  readonly seq?: number;
  /** Why the server refused it (an ErrorReason name), for `failed`. */
  readonly failure?: string;
}

/** A participant's receipt watermarks in one conversation. */
export interface ReceiptRecord {
  readonly conversationId: string;
  readonly userId: string;
  readonly deliveredSeq: number;
  readonly readSeq: number;
}

/** What the device knows about a conversation besides its messages. */
export interface ConversationMeta {
  readonly conversationId: string;
  /** Empty while unknown (a message arrived before the conversation list). */
  readonly peerUserId: string;
  readonly peerUsername: string;
}

/** The account and device this storage belongs to. */
export interface DeviceRecord {
  readonly userId: string;
  readonly username: string;
  readonly deviceId: string;
  /** The last bearer token, if the application chose to keep it. */
  readonly token?: string;
}

/**
 * The client storage port: durable outbox, messages, cursors, receipts and
 * conversation metadata of one device (memory, SQLite file, IndexedDB).
 *
 * Contract (checked by describeClientStorage):
 * - A promise resolves once the write is durable for that backend; a process
 *   that reopens the same file sees every resolved write.
 * - Messages are keyed by (conversation, seq): storing a held seq again
 *   changes nothing. Storing a message removes the local send with the same
 *   (conversation, clientMsgId): its sequenced copy replaces it.
 * - Local sends are keyed by clientMsgId; enqueueing a held id changes
 *   nothing. `listOutbox` returns the `queued` ones in enqueue order (FIFO),
 *   which is the order the server must receive them in.
 * - Receipt watermarks only rise (each field is a max), until a reset.
 * - Lists are ascending: messages by seq, local sends by enqueue order.
 * - Records returned are copies; mutating them does not change the storage.
 */
export interface ClientStorage {
  /** Adds a `queued` local send at the tail of the outbox. */
  enqueueSend(send: Omit<LocalSend, "state" | "seq" | "failure">): Promise<void>;
  /** Queued local sends, oldest first. */
  listOutbox(): Promise<LocalSend[]>;
  /**
   * Takes a queued send out of the outbox: the server's log holds it.
   * Records the seq when known. No effect on a failed or unknown send.
   */
  markSendAccepted(clientMsgId: string, seq?: number): Promise<void>;
  /** Takes a send out of the outbox for good, keeping it visible as failed. */
  markSendFailed(clientMsgId: string, failure: string): Promise<void>;
  /** Every local send (any state) of the conversation, or of all, oldest first. */
  listLocalSends(conversationId?: string): Promise<LocalSend[]>;
  /** Forgets a local send (e.g. the user dismissed a failed one). */
  removeLocalSend(clientMsgId: string): Promise<void>;

  /** Stores messages not yet held and settles their local sends. */
  putMessages(messages: readonly ChatMessage[]): Promise<void>;
  /** The conversation's messages, ascending by seq. */
  listMessages(conversationId: string): Promise<ChatMessage[]>;

  /** Sets the conversation's cursor (the highest seq held without a gap). */
  setCursor(conversationId: string, seq: number): Promise<void>;
  /** Every conversation's cursor. */
  listCursors(): Promise<Map<string, number>>;

  /** Raises a participant's watermarks to at least the given values. */
  putReceipt(receipt: ReceiptRecord): Promise<void>;
  /** Watermarks of every participant of the conversation held. */
  listReceipts(conversationId: string): Promise<ReceiptRecord[]>;

  /** Creates or replaces the conversation's metadata. */
  putConversation(meta: ConversationMeta): Promise<void>;
  listConversations(): Promise<ConversationMeta[]>;

  /**
   * Drops the conversation's messages, cursor and receipts (the server can no
   * longer continue from them). Keeps its metadata and local sends: those are
   * still to be delivered.
   */
  resetConversation(conversationId: string): Promise<void>;

  putDevice(device: DeviceRecord): Promise<void>;
  getDevice(): Promise<DeviceRecord | undefined>;

  /** Releases the backend; no call may follow. */
  close(): Promise<void>;
}
