import type { ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import type { LocalSend } from "./client-storage.ts";

/** How a client receives: one bidirectional stream, or a server stream plus unary calls (browsers). */
export type ReceiveMode = "bidi" | "subscribe";

/** Where a new stream resumes. */
export interface LinkOpening {
  /** Per conversation, the highest seq held without a gap. */
  readonly cursors: readonly { conversationId: string; seq: number }[];
  readonly clientInfo: string;
  /** Aborting it ends the stream and every call made for it. */
  readonly signal: AbortSignal;
}

/**
 * One stream to the server, whatever the mode: the server's events, and the
 * device's outgoing actions. Actions are fire-and-forget; their outcome comes
 * back as events (SendAccepted, StreamError, PresenceUpdate), which the
 * subscribe mode synthesizes from unary responses so that the client handles
 * both modes with one code path.
 */
export interface StreamLink {
  /** Server events in stream order; ends or throws when the stream does. */
  readonly events: AsyncIterable<ServerEvent>;
  /** Whether the link carries the client's pings (a bidi frame, or a unary Heartbeat beside a subscribe stream). */
  readonly carriesPings: boolean;
  /** Sends an outbox entry; entries reach the server in call order. */
  send(entry: LocalSend): void;
  ack(conversationId: string, seq: number): void;
  markRead(conversationId: string, seq: number): void;
  setTyping(conversationId: string, typing: boolean): void;
  /** Replaces the watched users (PresenceUpdate events follow). */
  watchPresence(userIds: readonly string[]): void;
  ping(nonce: number): void;
  /** Stops sending; the opener's signal ends the stream itself. */
  close(): void;
}
