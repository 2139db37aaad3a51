import { create } from "@bufbuild/protobuf";
import { ServerEventSchema, type ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import {
  ConversationSchema,
  MessageSchema,
  PresenceSchema,
  ReceiptSchema,
  type Conversation as WireConversation,
  type Message,
} from "../../gen/chat/v1/types_pb.ts";
import type { ConversationSummary, StoredMessage, UserId, Watermarks } from "../domain/index.ts";
import type { PresenceState } from "../presence/index.ts";
import type { DeliveryEvent } from "../push/index.ts";

/** Domain -> wire conversions; the only place the gateway builds API messages from domain types. */
export function toWireMessage(m: StoredMessage): Message {
  return create(MessageSchema, {
    conversationId: m.conversationId,
    seq: BigInt(m.seq),
    prevSeq: BigInt(m.prevSeq),
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    clientMsgId: m.clientMsgId,
    body: { case: "text", value: m.text },
    sentAtMs: BigInt(m.sentAtMs),
  });
}

export function toWireReceipt(conversationId: string, userId: string, w: Watermarks) {
  return create(ReceiptSchema, {
    conversationId,
    userId,
    deliveredSeq: BigInt(w.deliveredSeq),
    readSeq: BigInt(w.readSeq),
  });
}

export function toWirePresence(p: PresenceState) {
  return create(PresenceSchema, { userId: p.userId, online: p.online, lastSeenMs: BigInt(p.lastSeenMs) });
}

export function toWireConversation(
  s: ConversationSummary,
  self: UserId,
  peerUsername: string,
  peerPresence: PresenceState | undefined,
): WireConversation {
  return create(ConversationSchema, {
    conversationId: s.conversation.id,
    peerUserId: s.peerUserId,
    peerUsername,
    headSeq: BigInt(s.headSeq),
    lastMessage: s.lastMessage ? toWireMessage(s.lastMessage) : undefined,
    unreadCount: BigInt(s.unreadCount),
    ownReceipt: toWireReceipt(s.conversation.id, self, s.own),
    peerReceipt: toWireReceipt(s.conversation.id, s.peerUserId, s.peer),
    peerPresence: peerPresence ? toWirePresence(peerPresence) : undefined,
  });
}

/** Wraps one oneof case into a ServerEvent. */
export function serverEvent(event: ServerEvent["event"]): ServerEvent {
  return create(ServerEventSchema, { event });
}

/** A pushed delivery as a wire event (evictions are handled by the hub, never sent). */
export function deliveryToWire(e: Exclude<DeliveryEvent, { type: "evict" }>): ServerEvent {
  switch (e.type) {
    case "message":
      return serverEvent({ case: "message", value: toWireMessage(e.message) });
    case "send_result":
      return serverEvent({
        case: "sendResult",
        value: {
          $typeName: "chat.v1.SendResult",
          clientMsgId: e.clientMsgId,
          conversationId: e.conversationId,
          seq: BigInt(e.seq),
          duplicate: e.duplicate,
        },
      });
    case "receipt":
      return serverEvent({ case: "receipt", value: toWireReceipt(e.conversationId, e.userId, e.watermarks) });
    case "typing":
      return serverEvent({
        case: "typing",
        value: { $typeName: "chat.v1.TypingEvent", conversationId: e.conversationId, userId: e.userId, typing: e.typing },
      });
  }
}
