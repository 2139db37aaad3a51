import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ChatService, type ConnectRequestSchema } from "../../gen/chat/v1/chat_service_pb.ts";
import { createAsyncQueue } from "./async-queue.ts";
import type { LinkOpening, StreamLink } from "./stream-link.ts";
import { cursorsToWire, streamEvents, toWireInt } from "./wire.ts";

type Frame = MessageInitShape<typeof ConnectRequestSchema>["frame"];

/**
 * Opens ChatService.Connect: Hello first, then every action as a frame on the
 * same stream. The server handles one stream's frames in order and ends the
 * stream if it cannot append a send, so pipelining sends here keeps their order.
 */
export function openBidiLink(api: Client<typeof ChatService>, opening: LinkOpening): StreamLink {
  const frames = createAsyncQueue<MessageInitShape<typeof ConnectRequestSchema>>();
  const push = (frame: Frame): void => {
    frames.push({ frame });
  };
  push({
    case: "hello",
    value: { cursors: cursorsToWire(opening.cursors), clientInfo: opening.clientInfo, acceptEventBatches: true },
  });
  opening.signal.addEventListener("abort", () => frames.close(), { once: true });

  const responses = api.connect(frames, { signal: opening.signal });
  return {
    events: streamEvents(responses),
    carriesPings: true,
    send(entry) {
      push({
        case: "send",
        value: { clientMsgId: entry.clientMsgId, conversationId: entry.conversationId, text: entry.text },
      });
    },
    ack(conversationId, seq) {
      push({ case: "ack", value: { conversationId, seq: toWireInt(seq) } });
    },
    markRead(conversationId, seq) {
      push({ case: "read", value: { conversationId, seq: toWireInt(seq) } });
    },
    setTyping(conversationId, typing) {
      push({ case: "typing", value: { conversationId, typing } });
    },
    watchPresence(userIds) {
      push({ case: "watchPresence", value: { userIds: [...userIds] } });
    },
    ping(nonce) {
      push({ case: "ping", value: { nonce: toWireInt(nonce) } });
    },
    close() {
      frames.close();
    },
  };
}
