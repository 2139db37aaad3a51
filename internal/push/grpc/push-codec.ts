import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  PushDeliverySchema,
  PushedEvictSchema,
  PushedMessageSchema,
  PushedReceiptSchema,
  PushedSendResultSchema,
  PushedTypingSchema,
  PushRequestSchema,
  type PushDelivery,
  type PushRequest,
} from "../../../gen/chat/internal/v1/push_pb.ts";
import { asConversationId, asDeviceId, asUserId } from "../../domain/index.ts";
import type { Delivery, DeliveryEvent } from "../push-link.ts";

/** Encodes a batch as binary chat.internal.v1.PushRequest. */
export function encodeDeliveries(deliveries: readonly Delivery[]): Uint8Array {
  return toBinary(PushRequestSchema, toPushRequest(deliveries));
}

/**
 * Decodes a binary chat.internal.v1.PushRequest. Throws on bytes that are not
 * a PushRequest at all; skips single deliveries whose event this version does
 * not know (a newer worker), so the rest of the batch still arrives.
 */
export function decodeDeliveries(bytes: Uint8Array): Delivery[] {
  return fromPushRequest(fromBinary(PushRequestSchema, bytes));
}

export function toPushRequest(deliveries: readonly Delivery[]): PushRequest {
  return create(PushRequestSchema, {
    deliveries: deliveries.map((d) =>
      create(PushDeliverySchema, { deviceId: d.deviceId, event: toWireEvent(d.event) }),
    ),
  });
}

export function fromPushRequest(request: PushRequest): Delivery[] {
  const out: Delivery[] = [];
  for (const wire of request.deliveries) {
    const event = fromWireEvent(wire.event);
    if (event !== undefined) out.push({ deviceId: asDeviceId(wire.deviceId), event });
  }
  return out;
}

function toWireEvent(e: DeliveryEvent): PushDelivery["event"] {
  switch (e.type) {
    case "message": {
      const m = e.message;
      return {
        case: "message",
        value: create(PushedMessageSchema, {
          conversationId: m.conversationId,
          seq: BigInt(m.seq),
          prevSeq: BigInt(m.prevSeq),
          senderUserId: m.senderUserId,
          senderDeviceId: m.senderDeviceId,
          clientMsgId: m.clientMsgId,
          text: m.text,
          sentAtMs: BigInt(m.sentAtMs),
        }),
      };
    }
    case "send_result":
      return {
        case: "sendResult",
        value: create(PushedSendResultSchema, {
          conversationId: e.conversationId,
          clientMsgId: e.clientMsgId,
          seq: BigInt(e.seq),
          duplicate: e.duplicate,
        }),
      };
    case "receipt":
      return {
        case: "receipt",
        value: create(PushedReceiptSchema, {
          conversationId: e.conversationId,
          userId: e.userId,
          deliveredSeq: BigInt(e.watermarks.deliveredSeq),
          readSeq: BigInt(e.watermarks.readSeq),
        }),
      };
    case "typing":
      return {
        case: "typing",
        value: create(PushedTypingSchema, {
          conversationId: e.conversationId,
          userId: e.userId,
          typing: e.typing,
        }),
      };
    case "evict":
      return { case: "evict", value: create(PushedEvictSchema, { sessionId: e.sessionId }) };
  }
}

function fromWireEvent(event: PushDelivery["event"]): DeliveryEvent | undefined {
  switch (event.case) {
    case "message": {
      const m = event.value;
      return {
        type: "message",
        message: {
          conversationId: asConversationId(m.conversationId),
          seq: Number(m.seq),
          prevSeq: Number(m.prevSeq),
          senderUserId: asUserId(m.senderUserId),
          senderDeviceId: asDeviceId(m.senderDeviceId),
          clientMsgId: m.clientMsgId,
          text: m.text,
          sentAtMs: Number(m.sentAtMs),
        },
      };
    }
    case "sendResult":
      return {
        type: "send_result",
        conversationId: asConversationId(event.value.conversationId),
        clientMsgId: event.value.clientMsgId,
        seq: Number(event.value.seq),
        duplicate: event.value.duplicate,
      };
    case "receipt":
      return {
        type: "receipt",
        conversationId: asConversationId(event.value.conversationId),
        userId: asUserId(event.value.userId),
        watermarks: { deliveredSeq: Number(event.value.deliveredSeq), readSeq: Number(event.value.readSeq) },
      };
    case "typing":
      return {
        type: "typing",
        conversationId: asConversationId(event.value.conversationId),
        userId: asUserId(event.value.userId),
        typing: event.value.typing,
      };
    case "evict":
      return { type: "evict", sessionId: event.value.sessionId };
    default:
      return undefined;
  }
}
