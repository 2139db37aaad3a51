import { Code, type ConnectError } from "@connectrpc/connect";
import type { ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import type { Identity } from "../auth/index.ts";
import type { ConversationId, Reason, Seq } from "../domain/index.ts";
import type { DeliveryEvent } from "../push/index.ts";
import { connectError, wireReason } from "./error-mapping.ts";
import { deliveryToWire, serverEvent } from "./wire.ts";

/**
 * One open device stream (bidi or subscribe). Owns the bounded outbound
 * queue, and the switch-over from catch-up to live:
 *
 * - While syncing, live deliveries are buffered (bounded), not sent.
 * - Catch-up events go through `sendSync`, which waits for queue space: a
 *   device that reads slowly slows its own catch-up instead of growing memory.
 * - `goLive` flushes the buffer, dropping messages the catch-up already sent
 *   (dedup by seq per conversation), so there is no gap and no duplicate.
 * - A live delivery that finds the queue full cuts the session off with
 *   SLOW_CONSUMER: the queue is dropped (only the Reconnect and the error
 *   remain), the device reconnects and catches up from its cursor.
 */
export interface DeviceSession {
  readonly id: string;
  readonly identity: Identity;
  readonly kind: "bidi" | "subscribe";
  readonly closed: boolean;
  /** Catch-up path: resolves once the event is queued (waits while full). */
  sendSync(event: ServerEvent, messageSeq?: { conversationId: ConversationId; seq: Seq }): Promise<void>;
  /** Control events (errors, pongs, presence): queued unless the session is closed or full. */
  sendControl(event: ServerEvent): void;
  /** Live push from a worker or another gateway. */
  deliver(event: Exclude<DeliveryEvent, { type: "evict" }>): void;
  goLive(): void;
  /** Records a sign of life from the device (a frame or a call). */
  touch(nowMs: number): void;
  /** When the device last showed a sign of life. */
  readonly lastTouchMs: number;
  /** The highest message seq of the conversation this session has sent (0 if none). */
  sentUpTo(conversationId: ConversationId): Seq;
  /** True once catch-up is over and live events flow. */
  readonly live: boolean;
  /** Events waiting in the outbound queue. */
  readonly queued: number;
  /** Why the server ended the session (undefined while open or when the client left). */
  readonly closeReason: Reason | undefined;
  /** Ends the stream; with a reason, the client gets a Reconnect event then the error. */
  close(end?: { code: Code; reason: Reason; message: string; retryAfterMs?: number }): void;
  /**
   * The outbound stream consumed by the RPC handler, as batches: each is
   * everything queued (up to `maxBatch` events) when the handler asked for
   * more, so a busy device gets fewer, fuller frames. Ends (or throws) when closed.
   */
  batches(maxBatch: number): AsyncGenerator<ServerEvent[]>;
  /** Resolves when the session has closed. */
  readonly done: Promise<void>;
}

interface SessionConfig {
  readonly id: string;
  readonly identity: Identity;
  readonly kind: "bidi" | "subscribe";
  readonly queueLimit: number;
  readonly nowMs: number;
}

type LiveEvent = Exclude<DeliveryEvent, { type: "evict" }>;

export function createDeviceSession(cfg: SessionConfig): DeviceSession {
  return new Session(cfg);
}

/**
 * A class rather than a closure-built object: a gateway holds one per open
 * stream, 10^5 of them, and methods on the prototype are shared instead of
 * being a set of closures per session.
 */
class Session implements DeviceSession {
  readonly id: string;
  readonly identity: Identity;
  readonly kind: "bidi" | "subscribe";
  readonly done: Promise<void>;
  closed = false;
  live = false;
  lastTouchMs: number;
  closeReason: Reason | undefined;
  private readonly queueLimit: number;
  private readonly queue: ServerEvent[] = [];
  private readonly buffered: LiveEvent[] = [];
  private readonly sent = new Map<ConversationId, Seq>();
  private failure: ConnectError | undefined;
  private wakeReader: (() => void) | undefined;
  private wakeWriters: (() => void)[] = [];
  private resolveDone!: () => void;

  constructor(cfg: SessionConfig) {
    this.id = cfg.id;
    this.identity = cfg.identity;
    this.kind = cfg.kind;
    this.queueLimit = cfg.queueLimit;
    this.lastTouchMs = cfg.nowMs;
    this.done = new Promise<void>((r) => (this.resolveDone = r));
  }

  get queued(): number {
    return this.queue.length;
  }

  sentUpTo(conversationId: ConversationId): Seq {
    return this.sent.get(conversationId) ?? 0;
  }

  touch(nowMs: number): void {
    this.lastTouchMs = nowMs;
  }

  close(end?: { code: Code; reason: Reason; message: string; retryAfterMs?: number }): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = end?.reason;
    // A device cut for not reading would get the queue only once it reads
    // again, and until then (its connection may stay healthy for hours) the
    // queue would sit here at its limit. Everything in it is re-sent by the
    // catch-up from the device's cursors, so it goes now.
    if (end?.reason === "SLOW_CONSUMER") this.queue.length = 0;
    if (end) {
      // Queued behind what is already queued (order is kept); the error then
      // ends the stream, so a client that missed the event still sees the code.
      this.queue.push(
        serverEvent({
          case: "reconnect",
          value: { $typeName: "chat.v1.Reconnect", reason: wireReason(end.reason), retryAfterMs: end.retryAfterMs ?? 0 },
        }),
      );
      this.failure = connectError(end.code, end.reason, end.message);
    }
    this.buffered.length = 0;
    const writers = this.wakeWriters;
    this.wakeWriters = [];
    for (const w of writers) w();
    this.wake();
    this.resolveDone();
  }

  async sendSync(event: ServerEvent, messageSeq?: { conversationId: ConversationId; seq: Seq }): Promise<void> {
    while (!this.closed && this.queue.length >= this.queueLimit) {
      await new Promise<void>((r) => this.wakeWriters.push(r));
    }
    if (this.closed) return;
    if (messageSeq) {
      const last = this.sent.get(messageSeq.conversationId) ?? 0;
      if (messageSeq.seq > last) this.sent.set(messageSeq.conversationId, messageSeq.seq);
    }
    this.push(event);
  }

  sendControl(event: ServerEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.queueLimit) {
      this.close({ code: Code.ResourceExhausted, reason: "SLOW_CONSUMER", message: "outbound queue full; resync from cursors" });
      return;
    }
    this.push(event);
  }

  deliver(event: LiveEvent): void {
    if (this.closed) return;
    if (!this.live) {
      if (this.buffered.length >= this.queueLimit) {
        this.close({ code: Code.ResourceExhausted, reason: "SLOW_CONSUMER", message: "too many events during catch-up" });
        return;
      }
      this.buffered.push(event);
      return;
    }
    this.enqueueLive(event);
  }

  goLive(): void {
    if (this.closed || this.live) return;
    this.live = true;
    const pending = this.buffered.splice(0);
    for (const e of pending) {
      if (this.closed) return;
      this.enqueueLive(e);
    }
  }

  async *batches(maxBatch: number): AsyncGenerator<ServerEvent[]> {
    try {
      for (;;) {
        if (this.queue.length > 0) {
          const batch = this.queue.splice(0, maxBatch);
          if (this.wakeWriters.length > 0 && this.queue.length < this.queueLimit) {
            const writers = this.wakeWriters;
            this.wakeWriters = [];
            for (const w of writers) w();
          }
          yield batch;
          continue;
        }
        if (this.closed) break;
        await new Promise<void>((r) => (this.wakeReader = r));
      }
      if (this.failure) throw this.failure;
    } finally {
      // The consumer went away (client cancelled, connection lost): the session ends too.
      if (!this.closed) this.close();
    }
  }

  private wake(): void {
    this.wakeReader?.();
    this.wakeReader = undefined;
  }

  private push(e: ServerEvent): void {
    this.queue.push(e);
    this.wake();
  }

  private enqueueLive(e: LiveEvent): void {
    if (e.type === "message") {
      const last = this.sent.get(e.message.conversationId) ?? 0;
      if (e.message.seq <= last) return; // already sent (catch-up or a redelivered push)
      this.sent.set(e.message.conversationId, e.message.seq);
    }
    if (this.queue.length >= this.queueLimit) {
      this.close({ code: Code.ResourceExhausted, reason: "SLOW_CONSUMER", message: "outbound queue full; resync from cursors" });
      return;
    }
    this.push(deliveryToWire(e));
  }
}
