import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client, ConnectError } from "@connectrpc/connect";
import { ChatService, ServerEventSchema, type ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import type { BackoffConfig } from "./backoff.ts";
import { codeName, errorReasonOf } from "./errors.ts";
import { createRetryLane } from "./retry-lane.ts";
import type { ClientRuntime } from "./runtime.ts";
import type { LinkOpening, StreamLink } from "./stream-link.ts";
import { cursorsToWire, streamEvents, toWireInt } from "./wire.ts";

/** What the subscribe mode needs besides the stream's opening. */
export interface SubscribeLinkDeps {
  readonly runtime: ClientRuntime;
  /** Backoff of retried unary calls (rate limits, unavailable gateway). */
  readonly backoff: BackoffConfig;
  /** Receives the events synthesized from unary outcomes. */
  readonly inject: (event: ServerEvent) => void;
}

type EventInit = MessageInitShape<typeof ServerEventSchema>["event"];

/**
 * Opens ChatService.Subscribe for receiving and uses unary calls for acting,
 * as browsers must (no bidirectional streams over fetch). Sends go one at a
 * time in enqueue order; each outcome is injected as the event the bidi mode
 * would have received (SendAccepted, StreamError, PresenceUpdate).
 */
export function openSubscribeLink(
  api: Client<typeof ChatService>,
  opening: LinkOpening,
  deps: SubscribeLinkDeps,
): StreamLink {
  const { signal } = opening;
  const laneDeps = { runtime: deps.runtime, signal };
  // Separate lanes: a send held back by a rate limit must not delay acks.
  const sends = createRetryLane({ backoff: deps.backoff }, laneDeps);
  const control = createRetryLane({ backoff: deps.backoff }, laneDeps);

  const inject = (event: EventInit): void => {
    if (!signal.aborted) deps.inject(create(ServerEventSchema, { event }));
  };
  const injectRefusal = (error: ConnectError, clientMsgId = ""): void => {
    inject({
      case: "error",
      value: { reason: errorReasonOf(error), code: codeName(error.code), message: error.rawMessage, clientMsgId },
    });
  };

  const responses = api.subscribe(
    { cursors: cursorsToWire(opening.cursors), clientInfo: opening.clientInfo, acceptEventBatches: true },
    { signal },
  );
  return {
    events: streamEvents(responses),
    carriesPings: true,
    send(entry) {
      const { clientMsgId, conversationId, text } = entry;
      sends.push({
        async run(callSignal) {
          await api.sendMessage({ clientMsgId, conversationId, text }, { signal: callSignal });
          inject({ case: "sendAccepted", value: { clientMsgId, conversationId } });
        },
        refused: (error) => injectRefusal(error, clientMsgId),
      });
    },
    ack(conversationId, seq) {
      control.push({
        run: async (callSignal) => void (await api.ack({ conversationId, seq: toWireInt(seq) }, { signal: callSignal })),
        refused: (error) => injectRefusal(error),
      });
    },
    markRead(conversationId, seq) {
      control.push({
        run: async (callSignal) => void (await api.markRead({ conversationId, seq: toWireInt(seq) }, { signal: callSignal })),
        refused: (error) => injectRefusal(error),
      });
    },
    setTyping(conversationId, typing) {
      // Ephemeral: a lost indicator is harmless, a late one is wrong.
      api.setTyping({ conversationId, typing }, { signal }).catch(() => undefined);
    },
    watchPresence(userIds) {
      control.push({
        async run(callSignal) {
          const response = await api.watchPresence({ userIds: [...userIds] }, { signal: callSignal });
          inject({ case: "presence", value: { presences: response.presences } });
        },
        refused: (error) => injectRefusal(error),
      });
    },
    ping() {
      // A server stream has no way back: a unary Heartbeat tells the server
      // this device is still there (it closes Subscribe streams without them).
      api.heartbeat({}, { signal }).catch(() => undefined);
    },
    close() {
      // The lanes stop with the opener's signal.
    },
  };
}
