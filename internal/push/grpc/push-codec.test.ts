import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, test } from "bun:test";
import { PushDeliverySchema, PushRequestSchema } from "../../../gen/chat/internal/v1/push_pb.ts";
import { asConversationId, asDeviceId, asUserId } from "../../domain/index.ts";
import type { Delivery, DeliveryEvent } from "../push-link.ts";
import { decodeDeliveries, encodeDeliveries } from "./push-codec.ts";

const conversationId = asConversationId("c_0123456789abcdef0123456789abcdef");
const userId = asUserId("u-alice");
/** The largest seq a JS number carries exactly: int64 on the wire must not round it. */
const bigSeq = Number.MAX_SAFE_INTEGER;

const events: [string, DeliveryEvent][] = [
  [
    "message",
    {
      type: "message",
      message: {
        conversationId,
        seq: bigSeq,
        prevSeq: bigSeq - 7,
        senderUserId: userId,
        senderDeviceId: asDeviceId("d-phone"),
        clientMsgId: "5b0c8a6e-8a8e-4f43-9d0e-3f1f5d1c2b7a",
        text: "héllo 👋 \u0000 world",
        sentAtMs: 1_780_000_000_123,
      },
    },
  ],
  ["first message (prev_seq 0, empty text)", {
    type: "message",
    message: {
      conversationId,
      seq: 1,
      prevSeq: 0,
      senderUserId: userId,
      senderDeviceId: asDeviceId("d-phone"),
      clientMsgId: "c1",
      text: "",
      sentAtMs: 0,
    },
  }],
  ["send_result", { type: "send_result", conversationId, clientMsgId: "c1", seq: 42, duplicate: false }],
  ["duplicate send_result", { type: "send_result", conversationId, clientMsgId: "c1", seq: 42, duplicate: true }],
  ["receipt", { type: "receipt", conversationId, userId, watermarks: { deliveredSeq: bigSeq, readSeq: 12 } }],
  ["typing on", { type: "typing", conversationId, userId, typing: true }],
  ["typing off", { type: "typing", conversationId, userId, typing: false }],
  ["evict", { type: "evict", sessionId: "s-123" }],
];

describe("push codec", () => {
  test.each(events)("round-trips a %s delivery", (_label, event) => {
    const batch: Delivery[] = [{ deviceId: asDeviceId("d-tablet"), event }];
    expect(decodeDeliveries(encodeDeliveries(batch))).toEqual(batch);
  });

  test("round-trips a batch of every event type in order", () => {
    const batch: Delivery[] = events.map(([, event], i) => ({ deviceId: asDeviceId(`d${i}`), event }));
    expect(decodeDeliveries(encodeDeliveries(batch))).toEqual(batch);
  });

  test("an empty batch round-trips to an empty batch", () => {
    expect(decodeDeliveries(encodeDeliveries([]))).toEqual([]);
  });

  test("skips a delivery whose event this version does not know, keeping the rest", () => {
    const known = create(PushDeliverySchema, { deviceId: "d2", event: { case: "evict", value: { sessionId: "s" } } });
    const bytes = toBinary(
      PushRequestSchema,
      create(PushRequestSchema, { deliveries: [create(PushDeliverySchema, { deviceId: "d1" }), known] }),
    );
    expect(decodeDeliveries(bytes)).toEqual([{ deviceId: asDeviceId("d2"), event: { type: "evict", sessionId: "s" } }]);
  });

  test("refuses bytes that are not a push batch", () => {
    expect(() => decodeDeliveries(new Uint8Array([0xff, 0xff, 0xff]))).toThrow();
  });
});
