import { Code } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import type {
  ClientFrame,
  ConnectRequest,
  ConnectResponse,
  SubscribeRequest,
  ServerEvent,
  SubscribeResponse,
} from "../../gen/chat/v1/chat_service_pb.ts";
import type { Cursor } from "../../gen/chat/v1/types_pb.ts";
import type { Identity, TokenSigner } from "../auth/index.ts";
import { BackendUnavailableError, createSweep, DomainError, unauthenticated, type ConversationId, type Seq } from "../domain/index.ts";
import type { PresenceService } from "../presence/index.ts";
import type { Commands } from "./commands.ts";
import type { DeviceSession } from "./device-session.ts";
import { codeName, connectError, reasonOf, toConnectError } from "./error-mapping.ts";
import type { SessionOpener } from "./session-opener.ts";
import type { Metrics } from "../metrics/index.ts";
import { serverEvent, toWirePresence } from "./wire.ts";

export interface StreamHandlerDeps {
  signer: TokenSigner;
  opener: SessionOpener;
  commands: Commands;
  presence: PresenceService;
  clock: { nowMs(): number };
  logger: Logger;
  /** A bidi stream silent for this long is closed (HEARTBEAT_TIMEOUT). */
  idleTimeoutMs: number;
  /** Subscribe streams get a keepalive Pong this often. */
  heartbeatIntervalMs: number;
  /** Suggested wait after a rate-limited stream send (one token's refill time). */
  rateLimitRetryMs: number;
  metrics?: Metrics;
}

/**
 * Events per frame for clients that accept batches: enough to carry a
 * backlog in few frames, small enough that one frame stays far below the
 * message size limits of clients (events are at most a max-size text each).
 */
const MAX_EVENTS_PER_FRAME = 64;

/** A frame other than a batch (what a batch carries, plus the hello). */
type SingleFrame = Exclude<ConnectRequest["frame"], { case: "batch" }>;

/** Reads `authorization: Bearer <token>` (or the fallback) and verifies it. */
export function authenticate(signer: TokenSigner, header: Headers, fallbackToken = ""): Identity {
  const auth = header.get("authorization") ?? "";
  const token = auth.startsWith("Bearer ") ? auth.slice(7).trim() : fallbackToken;
  if (!token) throw unauthenticated("TOKEN_MISSING", "no bearer token");
  return signer.verify(token);
}

/**
 * Closes the session when the call is aborted. A plain function so that the
 * listener holds only the session, not the scope of the async handler that
 * opened it (the hello and its cursors) for the life of the stream.
 */
function closeOnAbort(signal: AbortSignal, session: DeviceSession): void {
  signal.addEventListener("abort", () => session.close(), { once: true });
}

function cursorMap(cursors: readonly Cursor[]): Map<ConversationId, Seq> {
  const out = new Map<ConversationId, Seq>();
  for (const c of cursors.slice(0, 100_000)) {
    const seq = Number(c.seq);
    if (seq >= 0 && Number.isSafeInteger(seq)) out.set(c.conversationId as ConversationId, seq);
  }
  return out;
}

/** Applies `watch` for a session: only peers, current states answered, changes streamed. */
export async function watchPresence(deps: StreamHandlerDeps, session: DeviceSession, userIds: readonly string[]) {
  const users = await deps.commands.assertPeers(session.identity, userIds);
  const states = await deps.presence.watch(session.id, users, (changes) => {
    deps.metrics?.presenceFanout.inc(changes.length);
    session.sendControl(
      serverEvent({ case: "presence", value: { $typeName: "chat.v1.PresenceUpdate", presences: changes.map(toWirePresence) } }),
    );
  });
  return states;
}

/**
 * ChatService.Connect and ChatService.Subscribe: authenticate, open the
 * session (catch-up, then live), and for Connect, dispatch client frames in
 * order. A refused frame gets a StreamError and the stream goes on; a send the
 * log could not take ends the stream (Unavailable) so that no later send of
 * this stream can overtake it.
 */
export function createStreamHandlers(deps: StreamHandlerDeps) {
  const { logger } = deps;

  /**
   * One frame's content from a batch the session handed over: all of it for a
   * client that accepts batches (the session hands it one event at a time
   * otherwise, see batchSize). Counted for chat_stream_frames_total /
   * chat_stream_events_total. A plain function, not a generator stage: this
   * runs for every frame of every stream.
   */
  const frameOf = (batch: ServerEvent[], batched: boolean): { event?: ServerEvent; events: ServerEvent[] } => {
    deps.metrics?.streamFrames.inc();
    deps.metrics?.streamEvents.inc(batch.length);
    return batched ? { events: batch } : { event: batch[0], events: [] };
  };
  const batchSize = (batched: boolean) => (batched ? MAX_EVENTS_PER_FRAME : 1);

  async function dispatch(session: DeviceSession, frame: SingleFrame): Promise<void> {
    const who = session.identity;
    switch (frame.case) {
      case "send":
        await deps.commands.send(who, frame.value);
        session.sendControl(
          serverEvent({
            case: "sendAccepted",
            value: { $typeName: "chat.v1.SendAccepted", clientMsgId: frame.value.clientMsgId, conversationId: frame.value.conversationId },
          }),
        );
        return;
      case "ack":
      case "read": {
        const { conversationId, seq } = frame.value;
        const sent = session.sentUpTo(conversationId as ConversationId);
        return deps.commands.receipt(who, frame.case, conversationId, Number(seq), sent);
      }
      case "typing":
        return deps.commands.typing(who, frame.value.conversationId, frame.value.typing);
      case "watchPresence": {
        const states = await watchPresence(deps, session, frame.value.userIds);
        session.sendControl(
          serverEvent({ case: "presence", value: { $typeName: "chat.v1.PresenceUpdate", presences: states.map(toWirePresence) } }),
        );
        return;
      }
      case "ping":
        session.sendControl(
          serverEvent({
            case: "pong",
            value: { $typeName: "chat.v1.Pong", nonce: frame.value.nonce, serverTimeMs: BigInt(deps.clock.nowMs()) },
          }),
        );
        return;
      case "hello":
        throw new DomainError("invalid", "MALFORMED_FRAME", "hello may only be the first frame");
      default:
        throw new DomainError("invalid", "MALFORMED_FRAME", "empty frame");
    }
  }

  /**
   * Dispatches one frame. A refused frame gets a StreamError and the stream
   * goes on; returns true when the frame ended the session (a send the log
   * could not take, or a rate-limited send: refusing it while later sends go
   * through would reorder the device's outbox).
   */
  async function handleFrame(session: DeviceSession, frame: SingleFrame): Promise<boolean> {
    try {
      await dispatch(session, frame);
      return false;
    } catch (err) {
      if (err instanceof BackendUnavailableError) {
        session.close({ code: Code.Unavailable, reason: "LOG_UNAVAILABLE", message: "log unavailable; retry", retryAfterMs: 500 });
        return true;
      }
      if (frame.case === "send" && err instanceof DomainError && err.reason === "RATE_LIMITED") {
        session.close({ code: Code.ResourceExhausted, reason: "RATE_LIMITED", message: err.message, retryAfterMs: deps.rateLimitRetryMs });
        return true;
      }
      const ce = toConnectError(err, logger);
      session.sendControl(
        serverEvent({
          case: "error",
          value: {
            $typeName: "chat.v1.StreamError",
            reason: reasonOf(ce),
            code: codeName(ce.code),
            message: ce.rawMessage,
            clientMsgId: frame.case === "send" ? frame.value.clientMsgId : "",
          },
        }),
      );
      return false;
    }
  }

  /** A batch is its frames in order, each with its own answer; the first that ends the session ends it. */
  async function handleBatch(session: DeviceSession, frames: readonly ClientFrame[]): Promise<boolean> {
    if (frames.length === 0) return handleFrame(session, { case: undefined });
    for (const f of frames) {
      if (session.closed) return true;
      if (await handleFrame(session, f.frame)) return true;
    }
    return false;
  }

  /**
   * Bidi streams reading frames: when each last heard from its device and
   * whether one of its frames is being handled. One sweep closes the silent
   * ones, rather than a timer per stream re-armed on every frame.
   */
  const reading = createSweep<DeviceSession, { lastFrameMs: number; busy: boolean }>(
    Math.max(50, Math.min(1_000, Math.floor(deps.idleTimeoutMs / 4))),
    (session, state, now) => {
      if (state.busy || now - state.lastFrameMs < deps.idleTimeoutMs) return false;
      session.close({ code: Code.Unavailable, reason: "HEARTBEAT_TIMEOUT", message: "no frame within the idle timeout" });
      return true;
    },
  );

  async function readFrames(session: DeviceSession, frames: AsyncIterator<ConnectRequest>): Promise<void> {
    const state = { lastFrameMs: Date.now(), busy: false };
    reading.set(session, state);
    try {
      for (;;) {
        let next: IteratorResult<ConnectRequest>;
        try {
          next = await frames.next();
        } catch (err) {
          session.close({ code: Code.InvalidArgument, reason: "MALFORMED_FRAME", message: "could not decode a client frame" });
          logger.debug({ err }, "frame decode failed");
          return;
        }
        if (next.done || session.closed) return;
        session.touch(deps.clock.nowMs());
        const frame = next.value.frame;
        // Frames are handled one at a time, so the next one is not read while
        // this one waits on the log or the store: that wait is the server's,
        // not the client's silence, and does not count towards the idle timeout.
        state.busy = true;
        const ended = frame.case === "batch" ? await handleBatch(session, frame.value.frames) : await handleFrame(session, frame);
        state.busy = false;
        state.lastFrameMs = Date.now();
        if (ended) return;
      }
    } finally {
      reading.delete(session);
      // Client half-closed or went away: end the session (its cleanup runs in whenClosed).
      session.close();
    }
  }

  /** Reads the hello, authenticates and opens the session; its frames are then read in the background. */
  async function openConnect(frames: AsyncIterator<ConnectRequest>, ctx: HandlerContext) {
    try {
      let first: IteratorResult<ConnectRequest>;
      try {
        first = await frames.next();
      } catch {
        throw connectError(Code.InvalidArgument, "MALFORMED_FRAME", "could not decode the hello frame");
      }
      if (first.done || first.value.frame.case !== "hello") {
        throw connectError(Code.InvalidArgument, "HELLO_REQUIRED", "the first frame must be a hello");
      }
      const hello = first.value.frame.value;
      const identity = authenticate(deps.signer, ctx.requestHeader, hello.token);
      const session = await deps.opener.open(identity, "bidi", cursorMap(hello.cursors));
      void readFrames(session, frames);
      // No abort listener: the transport returns the iterator when the call
      // ends (the lean path itself, connect-es through guardService), and
      // returning it closes the session.
      const batched = hello.acceptEventBatches;
      return { batches: session.batches(batchSize(batched)), toFrame: batched ? batchedFrames : singleFrames };
    } catch (err) {
      throw toConnectError(err, logger);
    }
  }

  type Step = (r: IteratorResult<ServerEvent[]>) => IteratorResult<ConnectResponse>;
  const DONE: IteratorResult<ConnectResponse> = { value: undefined, done: true };
  const asFrames = (batched: boolean): Step => (r) =>
    r.done ? DONE : { value: { $typeName: "chat.v1.ConnectResponse", ...frameOf(r.value, batched) }, done: false };
  const batchedFrames = asFrames(true);
  const singleFrames = asFrames(false);

  /**
   * ConnectResponses: the session's batches as response frames, opened on the
   * first read. A hand-written iterator, not an async generator: a suspended
   * generator keeps its last result reachable, and a generator, its scope and
   * promises per stream add up on a gateway holding 10^5 idle streams.
   */
  class ConnectResponses implements AsyncIterableIterator<ConnectResponse> {
    private opening: Promise<void> | undefined;
    private batches: AsyncIterator<ServerEvent[]> | undefined;
    private toFrame: Step = singleFrames;

    constructor(
      private readonly requests: AsyncIterable<ConnectRequest>,
      private readonly ctx: HandlerContext,
    ) {}

    next(): Promise<IteratorResult<ConnectResponse>> {
      if (this.batches) return this.batches.next().then(this.toFrame);
      this.opening ??= openConnect(this.requests[Symbol.asyncIterator](), this.ctx).then((o) => {
        this.batches = o.batches;
        this.toFrame = o.toFrame;
      });
      return this.opening.then(() => this.next());
    }

    /** The consumer went away: the session ends (its batches' return closes it). */
    async return(): Promise<IteratorResult<ConnectResponse>> {
      await this.opening?.catch(() => undefined);
      await this.batches?.return?.();
      return DONE;
    }

    [Symbol.asyncIterator](): AsyncIterableIterator<ConnectResponse> {
      return this;
    }
  }

  return {
    connect(requests: AsyncIterable<ConnectRequest>, ctx: HandlerContext): AsyncIterable<ConnectResponse> {
      return new ConnectResponses(requests, ctx);
    },
    async *subscribe(req: SubscribeRequest, ctx: HandlerContext): AsyncGenerator<SubscribeResponse> {
      let session: DeviceSession;
      try {
        const identity = authenticate(deps.signer, ctx.requestHeader);
        session = await deps.opener.open(identity, "subscribe", cursorMap(req.cursors));
      } catch (err) {
        throw toConnectError(err, logger);
      }
      closeOnAbort(ctx.signal, session);
      // Browsers cannot ping on a server stream: a periodic event keeps proxies
      // from idling it out, and the device's Heartbeat calls prove it is still
      // there; a session without them is a half-open connection and goes.
      const keepalive = setInterval(() => {
        const now = deps.clock.nowMs();
        if (now - session.lastTouchMs > deps.idleTimeoutMs) {
          session.close({ code: Code.Unavailable, reason: "HEARTBEAT_TIMEOUT", message: "no heartbeat within the idle timeout" });
          return;
        }
        session.sendControl(
          serverEvent({ case: "pong", value: { $typeName: "chat.v1.Pong", nonce: 0n, serverTimeMs: BigInt(now) } }),
        );
      }, deps.heartbeatIntervalMs);
      try {
        for await (const batch of session.batches(batchSize(req.acceptEventBatches))) {
          yield { $typeName: "chat.v1.SubscribeResponse", ...frameOf(batch, req.acceptEventBatches) };
        }
      } finally {
        clearInterval(keepalive);
      }
    },
  };
}
