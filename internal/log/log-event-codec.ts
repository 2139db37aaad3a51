import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { LogEventSchema, ReceiptEventSchema, SendEventSchema } from "../../gen/chat/internal/v1/log_event_pb.ts";
import {
  asConversationId,
  asDeviceId,
  asUserId,
  type ConversationId,
  type DeviceId,
  type Seq,
  type UserId,
} from "../domain/index.ts";

/** A client event as carried by the log, in domain terms. */
export type ClientEvent =
  | (EventHeader & { readonly type: "send"; readonly clientMsgId: string; readonly text: string })
  | (EventHeader & { readonly type: "ack" | "read"; readonly seq: Seq });

export interface EventHeader {
  readonly conversationId: ConversationId;
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  readonly acceptedAtMs: number;
}

/** Binary protobuf (chat.internal.v1.LogEvent): compact and versionable. */
export function encodeClientEvent(e: ClientEvent): Uint8Array {
  const kind =
    e.type === "send"
      ? { case: "send" as const, value: create(SendEventSchema, { clientMsgId: e.clientMsgId, text: e.text }) }
      : { case: e.type, value: create(ReceiptEventSchema, { seq: BigInt(e.seq) }) };
  return toBinary(
    LogEventSchema,
    create(LogEventSchema, {
      conversationId: e.conversationId,
      userId: e.userId,
      deviceId: e.deviceId,
      acceptedAtMs: BigInt(e.acceptedAtMs),
      kind,
    }),
  );
}

/** Decodes a log record; returns undefined for a record this version cannot interpret. */
export function decodeClientEvent(bytes: Uint8Array): ClientEvent | undefined {
  let m;
  try {
    m = fromBinary(LogEventSchema, bytes);
  } catch {
    return undefined;
  }
  const header: EventHeader = {
    conversationId: asConversationId(m.conversationId),
    userId: asUserId(m.userId),
    deviceId: asDeviceId(m.deviceId),
    acceptedAtMs: Number(m.acceptedAtMs),
  };
  switch (m.kind.case) {
    case "send":
      return { ...header, type: "send", clientMsgId: m.kind.value.clientMsgId, text: m.kind.value.text };
    case "ack":
    case "read":
      return { ...header, type: m.kind.case, seq: Number(m.kind.value.seq) };
    default:
      return undefined;
  }
}
