import type { ConversationId, DeviceId, Seq, UserId } from "./ids.ts";

/** A message as stored: identical bytes whoever (re)writes it. */
export interface StoredMessage {
  readonly conversationId: ConversationId;
  readonly seq: Seq;
  /** Seq of the previous message of the conversation, 0 for the first. */
  readonly prevSeq: Seq;
  readonly senderUserId: UserId;
  readonly senderDeviceId: DeviceId;
  readonly clientMsgId: string;
  readonly text: string;
  readonly sentAtMs: number;
}

/** A 1:1 conversation; userA < userB. */
export interface Conversation {
  readonly id: ConversationId;
  readonly userA: UserId;
  readonly userB: UserId;
  readonly createdAtMs: number;
}

/** One participant's receipt watermarks. Invariant: readSeq <= deliveredSeq. */
export interface Watermarks {
  readonly deliveredSeq: Seq;
  readonly readSeq: Seq;
}

export const NO_WATERMARKS: Watermarks = Object.freeze({ deliveredSeq: 0, readSeq: 0 });

/** A conversation as listed for one user. */
export interface ConversationSummary {
  readonly conversation: Conversation;
  readonly peerUserId: UserId;
  readonly headSeq: Seq;
  readonly lastMessage: StoredMessage | undefined;
  readonly unreadCount: number;
  readonly own: Watermarks;
  readonly peer: Watermarks;
}

export interface User {
  readonly id: UserId;
  readonly username: string;
  readonly passwordHash: string;
  readonly createdAtMs: number;
}

export interface Device {
  readonly id: DeviceId;
  readonly userId: UserId;
  readonly name: string;
  readonly createdAtMs: number;
}

/** The other participant of a conversation. */
export function peerOf(c: Conversation, user: UserId): UserId {
  return c.userA === user ? c.userB : c.userA;
}

export function isParticipant(c: Conversation, user: UserId): boolean {
  return c.userA === user || c.userB === user;
}
