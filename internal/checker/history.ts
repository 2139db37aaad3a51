/**
 * The history a checker run produces: what the driver did, what every device
 * observed while it happened, and what devices and server hold at the end.
 * Plain data, so `verifyHistory` can be fed hand-made histories as well as
 * recorded ones.
 */

/** A conversation between two users. */
export interface HistoryConversation {
  readonly conversationId: string;
  readonly userIds: readonly [string, string];
}

/** One device of a user (it keeps its id across restarts). */
export interface HistoryDevice {
  readonly deviceId: string;
  readonly userId: string;
}

/** A message composed by the driver on a device, in composition order. */
export interface SendRecord {
  readonly clientMsgId: string;
  readonly conversationId: string;
  /** The device it was composed on. */
  readonly deviceId: string;
  /** The sender's device showed "sent" (or better): the server holds it durably. */
  readonly sentAck: boolean;
  /** The seq the sender learned from SendResult (or its sequenced copy). */
  readonly resultSeq?: number;
  /** The server refused it for good (ErrorReason name). */
  readonly failed?: string;
}

/** Something one device observed, in the order observations were made. */
export type Observation =
  | {
      readonly kind: "message";
      readonly atMs: number;
      readonly deviceId: string;
      readonly conversationId: string;
      readonly seq: number;
      readonly prevSeq: number;
      readonly clientMsgId: string;
    }
  | {
      /** The device's view of one participant's watermarks right after a receipt event. */
      readonly kind: "receipt";
      readonly atMs: number;
      readonly deviceId: string;
      readonly conversationId: string;
      readonly userId: string;
      readonly deliveredSeq: number;
      readonly readSeq: number;
    }
  /** The server told the device to drop a conversation and refill it: watermarks may restart. */
  | { readonly kind: "reset"; readonly atMs: number; readonly deviceId: string; readonly conversationId: string }
  /** A fault the driver injected; context for the evidence printed with a violation. */
  | { readonly kind: "fault"; readonly atMs: number; readonly description: string };

/** A message as a device or the server holds it. */
export interface HeldMessage {
  readonly seq: number;
  readonly prevSeq: number;
  readonly clientMsgId: string;
}

/** A participant's watermarks. */
export interface WatermarkRecord {
  readonly userId: string;
  readonly deliveredSeq: number;
  readonly readSeq: number;
}

/** What one device holds of one conversation at the end. */
export interface FinalConversation {
  readonly conversationId: string;
  /** Ascending by seq, after paging older history in. */
  readonly messages: readonly HeldMessage[];
  /** Highest seq held without a gap. */
  readonly cursor: number;
  /** The device still believes older messages exist that it does not hold. */
  readonly hasOlder: boolean;
  /** Own messages still without a sequenced copy. */
  readonly pendingSends: number;
  readonly watermarks: readonly WatermarkRecord[];
}

/** A device at the end of the run. */
export interface FinalDevice {
  readonly deviceId: string;
  /** Connected and caught up when the state was read. */
  readonly live: boolean;
  readonly conversations: readonly FinalConversation[];
}

/** The server's authoritative state of one conversation (GetHistory, ListConversations). */
export interface ServerConversation {
  readonly conversationId: string;
  readonly headSeq: number;
  readonly messages: readonly HeldMessage[];
  readonly watermarks: readonly WatermarkRecord[];
}

/** Everything `verifyHistory` checks. */
export interface History {
  readonly conversations: readonly HistoryConversation[];
  readonly devices: readonly HistoryDevice[];
  readonly sends: readonly SendRecord[];
  readonly observations: readonly Observation[];
  readonly final: readonly FinalDevice[];
  readonly server: readonly ServerConversation[];
}
