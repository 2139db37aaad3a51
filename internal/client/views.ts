import type { ChatMessage, LocalSend } from "./client-storage.ts";
import { computeTick, type ConversationState, type Tick, type Watermarks } from "./conversation-state.ts";

/** A message as a UI shows it: sequenced, or an own message not sequenced yet. */
export interface MessageView {
  readonly conversationId: string;
  readonly clientMsgId: string;
  readonly senderUserId: string;
  readonly text: string;
  /** Sent by this user (from any of its devices). */
  readonly own: boolean;
  /** Absent until the sequenced copy is held (or a SendResult told it). */
  readonly seq?: number;
  /** Server time of acceptance, for sequenced messages. */
  readonly sentAtMs?: number;
  /** Ticks, for own messages only. */
  readonly tick?: Tick;
  /** ErrorReason name, for failed sends. */
  readonly failure?: string;
}

/** A conversation as a list shows it. */
export interface ConversationView {
  readonly conversationId: string;
  readonly peerUserId: string;
  readonly peerUsername: string;
  /** Newest held message. */
  readonly lastMessage?: ChatMessage;
  /** Held messages from the peer above the user's read watermark. */
  readonly unreadCount: number;
  readonly ownReceipt?: Watermarks;
  readonly peerReceipt?: Watermarks;
  /** Highest seq held without a gap. */
  readonly cursor: number;
  /** Older messages exist than the oldest held (loadOlder fetches them). */
  readonly hasOlder: boolean;
}

/** Sequenced messages in seq order, then unsequenced own messages in enqueue order. */
export function messageViews(
  userId: string,
  state: ConversationState | undefined,
  local: readonly LocalSend[],
  peer: Watermarks | undefined,
): MessageView[] {
  const sequenced = (state?.messages() ?? []).map((m): MessageView => {
    const own = m.senderUserId === userId;
    return {
      conversationId: m.conversationId,
      clientMsgId: m.clientMsgId,
      senderUserId: m.senderUserId,
      text: m.text,
      own,
      seq: m.seq,
      sentAtMs: m.sentAtMs,
      ...(own ? { tick: computeTick({ state: "accepted", seq: m.seq }, peer) } : {}),
    };
  });
  const pending = local.map(
    (s): MessageView => ({
      conversationId: s.conversationId,
      clientMsgId: s.clientMsgId,
      senderUserId: userId,
      text: s.text,
      own: true,
      tick: computeTick(s, peer),
      ...(s.seq === undefined ? {} : { seq: s.seq }),
      ...(s.failure === undefined ? {} : { failure: s.failure }),
    }),
  );
  return [...sequenced, ...pending];
}

/** The list entry of one conversation. */
export function conversationView(
  userId: string,
  meta: { conversationId: string; peerUserId: string; peerUsername: string },
  state: ConversationState | undefined,
): ConversationView {
  const messages = state?.messages() ?? [];
  const own = state?.receipt(userId);
  const peer = meta.peerUserId ? state?.receipt(meta.peerUserId) : undefined;
  const readSeq = own?.readSeq ?? 0;
  let unreadCount = 0;
  // Newest first, stopping at the read watermark: cost follows the unread count.
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as ChatMessage;
    if (m.seq <= readSeq) break;
    if (m.senderUserId !== userId) unreadCount++;
  }
  const lastMessage = messages[messages.length - 1];
  return {
    conversationId: meta.conversationId,
    peerUserId: meta.peerUserId,
    peerUsername: meta.peerUsername,
    ...(lastMessage ? { lastMessage } : {}),
    unreadCount,
    ...(own ? { ownReceipt: own } : {}),
    ...(peer ? { peerReceipt: peer } : {}),
    cursor: state?.cursor ?? 0,
    hasOlder: state?.hasOlder() ?? false,
  };
}
