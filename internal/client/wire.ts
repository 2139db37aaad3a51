import type { ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import type { Conversation, Message, Presence, Receipt } from "../../gen/chat/v1/types_pb.ts";
import type { ChatMessage, ConversationMeta, ReceiptRecord } from "./client-storage.ts";

/**
 * Wire <-> SDK conversions. int64 fields are bigint on the wire; seqs and
 * times stay below 2^53 by the server's construction, so the SDK holds them
 * as plain numbers (cheap to compare, storable in IndexedDB and JSON).
 */

/** A user's presence as last reported. */
export interface PresenceView {
  readonly userId: string;
  readonly online: boolean;
  /** When the user was last online (ms since epoch); 0 if never seen. */
  readonly lastSeenMs: number;
}

/**
 * The events of a stream's frames, in order. The SDK asks for batches
 * (accept_event_batches), so a frame usually carries `events`; a server that
 * does not batch sets `event`.
 */
export async function* streamEvents(
  responses: AsyncIterable<{ event?: ServerEvent; events: ServerEvent[] }>,
): AsyncGenerator<ServerEvent> {
  for await (const response of responses) {
    if (response.events.length > 0) yield* response.events;
    else if (response.event) yield response.event;
  }
}

/** A seq or time from the wire as a number. */
export const fromWireInt = (value: bigint): number => Number(value);

/** A seq for the wire. */
export const toWireInt = (value: number): bigint => BigInt(Math.trunc(value));

/** A wire message as the SDK stores it. */
export function messageFromWire(m: Message): ChatMessage {
  return {
    conversationId: m.conversationId,
    seq: fromWireInt(m.seq),
    prevSeq: fromWireInt(m.prevSeq),
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    clientMsgId: m.clientMsgId,
    // Text is the only body kind today; another kind shows as empty text
    // rather than being dropped, so the seq chain stays intact.
    text: m.body.case === "text" ? m.body.value : "",
    sentAtMs: fromWireInt(m.sentAtMs),
  };
}

/** Receipt watermarks as numbers. */
export function receiptFromWire(r: Receipt): ReceiptRecord {
  return {
    conversationId: r.conversationId,
    userId: r.userId,
    deliveredSeq: fromWireInt(r.deliveredSeq),
    readSeq: fromWireInt(r.readSeq),
  };
}

/** Presence with its last-seen time as a number. */
export function presenceFromWire(p: Presence): PresenceView {
  return { userId: p.userId, online: p.online, lastSeenMs: fromWireInt(p.lastSeenMs) };
}

/** The part of a listed conversation the device keeps as metadata. */
export function metaFromWire(c: Conversation): ConversationMeta {
  return { conversationId: c.conversationId, peerUserId: c.peerUserId, peerUsername: c.peerUsername };
}

/** Cursors for Hello / SubscribeRequest. */
export function cursorsToWire(
  cursors: readonly { conversationId: string; seq: number }[],
): { conversationId: string; seq: bigint }[] {
  return cursors.map((c) => ({ conversationId: c.conversationId, seq: toWireInt(c.seq) }));
}
