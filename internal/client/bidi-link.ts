import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ChatService, type ConnectRequestSchema } from "../../gen/chat/v1/chat_service_pb.ts";
import { createAsyncQueue } from "./async-queue.ts";
import type { LinkOpening, StreamLink } from "./stream-link.ts";
import { cursorsToWire, streamEvents, toWireInt } from "./wire.ts";

type Request = MessageInitShape<typeof ConnectRequestSchema>;
type Frame = Request["frame"];

/** Frames per batch, and a budget for their size well under the server's request limit (64 KiB or more). */
const MAX_BATCH_FRAMES = 64;
const MAX_BATCH_BYTES = 32 * 1024;
/** Upper bound of a frame's encoded size besides its text (ids, seq, tags). */
const FRAME_OVERHEAD_BYTES = 128;

/** An upper bound of the frame's encoded size: its variable parts at 3 bytes per UTF-16 unit, plus overhead. */
function sizeOf(frame: Frame): number {
  if (frame?.case === "send") return FRAME_OVERHEAD_BYTES + (frame.value.text?.length ?? 0) * 3;
  if (frame?.case === "watchPresence") {
    return FRAME_OVERHEAD_BYTES + (frame.value.userIds ?? []).reduce((n, id) => n + id.length * 3 + 2, 0);
  }
  return FRAME_OVERHEAD_BYTES;
}

/**
 * The frames queued at one wake-up, as requests: one per frame until the
 * server said it takes batches, then as few batches as the limits allow (a
 * hello, or a frame alone over the budget, travels on its own).
 */
export function* requestsOf(frames: readonly Request[], batches: boolean): Generator<Request> {
  if (!batches) {
    yield* frames;
    return;
  }
  let group: Request[] = [];
  let bytes = 0;
  const flush = function* (): Generator<Request> {
    if (group.length === 1) yield group[0]!;
    else if (group.length > 1) {
      yield { frame: { case: "batch", value: { frames: group.map((r) => ({ frame: r.frame as never })) } } };
    }
    group = [];
    bytes = 0;
  };
  for (const request of frames) {
    if (request.frame?.case === "hello" || request.frame?.case === "batch") {
      yield* flush();
      yield request;
      continue;
    }
    const size = sizeOf(request.frame);
    if (group.length >= MAX_BATCH_FRAMES || (group.length > 0 && bytes + size > MAX_BATCH_BYTES)) yield* flush();
    group.push(request);
    bytes += size;
  }
  yield* flush();
}

/**
 * Opens ChatService.Connect: Hello first, then every action as a frame on the
 * same stream. The server handles one stream's frames in order and ends the
 * stream if it cannot append a send, so pipelining sends here keeps their order;
 * a batch is handled frame by frame in the same order.
 */
export function openBidiLink(api: Client<typeof ChatService>, opening: LinkOpening): StreamLink {
  const frames = createAsyncQueue<Request>();
  // Set by the Welcome: until then (and with a server that does not say so) one frame per request.
  let batches = false;
  const push = (frame: Frame): void => {
    frames.push({ frame });
  };
  push({
    case: "hello",
    value: { cursors: cursorsToWire(opening.cursors), clientInfo: opening.clientInfo, acceptEventBatches: true },
  });
  opening.signal.addEventListener("abort", () => frames.close(), { once: true });

  async function* requests(): AsyncGenerator<Request> {
    for await (const chunk of frames.chunks()) yield* requestsOf(chunk, batches);
  }
  const responses = api.connect(requests(), { signal: opening.signal });
  async function* events() {
    for await (const event of streamEvents(responses)) {
      if (event.event.case === "welcome") batches = event.event.value.acceptsFrameBatches;
      yield event;
    }
  }
  return {
    events: events(),
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
