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
   * more, so a busy device gets fewer, fuller frames. Ends (or throws) when
   * closed; `return` (the consumer went away) closes the session.
   */
  batches(maxBatch: number): AsyncIterableIterator<ServerEvent[]>;
  /**
   * Runs `cleanup` at the next microtask after the session closes (or after
   * this call, if it has closed already). A callback rather than a promise:
   * fewer objects per open stream.
   */
  whenClosed(cleanup: () => void): void;
}

interface SessionConfig {
  readonly id: string;
  readonly identity: Identity;
  readonly kind: "bidi" | "subscribe";
  readonly queueLimit: number;
  readonly nowMs: number;
}

type LiveEvent = Exclude<DeliveryEvent, { type: "evict" }>;

const DONE: IteratorResult<ServerEvent[]> = Object.freeze({ value: undefined, done: true });

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
  closed = false;
  live = false;
  lastTouchMs: number;
  closeReason: Reason | undefined;
  private readonly queueLimit: number;
  private readonly queue: ServerEvent[] = [];
  private readonly buffered: LiveEvent[] = [];
  private readonly sent = new Map<ConversationId, Seq>();
  private failure: ConnectError | undefined;
  /** The consumer's pending next(), if it waits. */
  private reader: { resolve: (r: IteratorResult<ServerEvent[]>) => void; reject: (e: unknown) => void } | undefined;
  private maxBatch = 1;
  private finished = false;
  private wakeQueued = false;
  private wakeWriters: (() => void)[] = [];
  private cleanup: (() => void) | undefined;

  constructor(cfg: SessionConfig) {
    this.id = cfg.id;
    this.identity = cfg.identity;
    this.kind = cfg.kind;
    this.queueLimit = cfg.queueLimit;
    this.lastTouchMs = cfg.nowMs;
  }

  whenClosed(cleanup: () => void): void {
    if (this.closed) queueMicrotask(cleanup);
    else if (this.cleanup) throw new Error("whenClosed: a session has one cleanup");
    else this.cleanup = cleanup;
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
    this.releaseWriters();
    this.wake();
    const cleanup = this.cleanup;
    this.cleanup = undefined;
    if (cleanup) queueMicrotask(cleanup);
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

  /**
   * The session is its own outbound iterator (it has one consumer), written
   * by hand rather than as an async generator: a generator suspended between
   * two batches keeps the last batch it yielded reachable (for an idle
   * device, its whole catch-up), and a generator, its scope and promises per
   * stream add up on a gateway holding 10^5 idle streams.
   */
  batches(maxBatch: number): AsyncIterableIterator<ServerEvent[]> {
    this.maxBatch = maxBatch;
    return this;
  }

  next(): Promise<IteratorResult<ServerEvent[]>> {
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
      this.serveReader();
    });
  }

  return(): Promise<IteratorResult<ServerEvent[]>> {
    this.finish();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ServerEvent[]> {
    return this;
  }

  /** Answers a waiting reader if there is something to answer with; otherwise it waits for `wake`. */
  private serveReader(): void {
    const reader = this.reader;
    if (!reader) return;
    if (this.finished) {
      this.reader = undefined;
      reader.resolve(DONE);
    } else if (this.queue.length > 0) {
      this.reader = undefined;
      reader.resolve({ value: this.take(this.maxBatch), done: false });
    } else if (this.closed) {
      this.reader = undefined;
      this.finish();
      if (this.failure) reader.reject(this.failure);
      else reader.resolve(DONE);
    }
  }

  /** No more batches; the consumer went away (client cancelled, connection lost) or saw the end: the session ends too. */
  private finish(): void {
    this.finished = true;
    if (!this.closed) this.close();
  }

  /** Up to `maxBatch` queued events, waking writers that waited for room. */
  private take(maxBatch: number): ServerEvent[] {
    const batch = this.queue.splice(0, maxBatch);
    if (this.queue.length < this.queueLimit) this.releaseWriters();
    return batch;
  }

  /** Lets every catch-up writer waiting for queue room (or for the close) go on. */
  private releaseWriters(): void {
    if (this.wakeWriters.length === 0) return;
    const writers = this.wakeWriters;
    this.wakeWriters = [];
    for (const w of writers) w();
  }

  /**
   * Serves a waiting reader at the next microtask rather than at once, so
   * that everything queued in the same turn leaves in one batch (one frame).
   */
  private wake(): void {
    if (!this.reader || this.wakeQueued) return;
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      this.serveReader();
    });
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
