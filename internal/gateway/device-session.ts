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

export function createDeviceSession(cfg: {
  id: string;
  identity: Identity;
  kind: "bidi" | "subscribe";
  queueLimit: number;
  nowMs: number;
}): DeviceSession {
  const queue: ServerEvent[] = [];
  const buffered: Exclude<DeliveryEvent, { type: "evict" }>[] = [];
  const sentUpTo = new Map<ConversationId, Seq>();
  let live = false;
  let lastTouchMs = cfg.nowMs;
  let closeReason: Reason | undefined;
  let closed = false;
  let failure: ConnectError | undefined;
  let wakeReader: (() => void) | undefined;
  let wakeWriters: (() => void)[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const wake = () => {
    wakeReader?.();
    wakeReader = undefined;
  };
  const push = (e: ServerEvent) => {
    queue.push(e);
    wake();
  };

  const close: DeviceSession["close"] = (end) => {
    if (closed) return;
    closed = true;
    closeReason = end?.reason;
    // A device cut for not reading would get the queue only once it reads
    // again, and until then (its connection may stay healthy for hours) the
    // queue would sit here at its limit. Everything in it is re-sent by the
    // catch-up from the device's cursors, so it goes now.
    if (end?.reason === "SLOW_CONSUMER") queue.length = 0;
    if (end) {
      // Queued behind what is already queued (order is kept); the error then
      // ends the stream, so a client that missed the event still sees the code.
      queue.push(
        serverEvent({
          case: "reconnect",
          value: { $typeName: "chat.v1.Reconnect", reason: wireReason(end.reason), retryAfterMs: end.retryAfterMs ?? 0 },
        }),
      );
      failure = connectError(end.code, end.reason, end.message);
    }
    buffered.length = 0;
    for (const w of wakeWriters) w();
    wakeWriters = [];
    wake();
    resolveDone();
  };

  const enqueueLive = (e: Exclude<DeliveryEvent, { type: "evict" }>) => {
    if (e.type === "message") {
      const last = sentUpTo.get(e.message.conversationId) ?? 0;
      if (e.message.seq <= last) return; // already sent (catch-up or a redelivered push)
      sentUpTo.set(e.message.conversationId, e.message.seq);
    }
    if (queue.length >= cfg.queueLimit) {
      close({ code: Code.ResourceExhausted, reason: "SLOW_CONSUMER", message: "outbound queue full; resync from cursors" });
      return;
    }
    push(deliveryToWire(e));
  };

  return {
    id: cfg.id,
    identity: cfg.identity,
    kind: cfg.kind,
    get closed() {
      return closed;
    },
    get lastTouchMs() {
      return lastTouchMs;
    },
    get queued() {
      return queue.length;
    },
    get live() {
      return live;
    },
    sentUpTo(conversationId) {
      return sentUpTo.get(conversationId) ?? 0;
    },
    get closeReason() {
      return closeReason;
    },
    touch(nowMs) {
      lastTouchMs = nowMs;
    },
    done,
    async sendSync(event, messageSeq) {
      while (!closed && queue.length >= cfg.queueLimit) {
        await new Promise<void>((r) => wakeWriters.push(r));
      }
      if (closed) return;
      if (messageSeq) {
        const last = sentUpTo.get(messageSeq.conversationId) ?? 0;
        if (messageSeq.seq > last) sentUpTo.set(messageSeq.conversationId, messageSeq.seq);
      }
      push(event);
    },
    sendControl(event) {
      if (closed) return;
      if (queue.length >= cfg.queueLimit) {
        close({ code: Code.ResourceExhausted, reason: "SLOW_CONSUMER", message: "outbound queue full; resync from cursors" });
        return;
      }
      push(event);
    },
    deliver(event) {
      if (closed) return;
      if (!live) {
        if (buffered.length >= cfg.queueLimit) {
          close({ code: Code.ResourceExhausted, reason: "SLOW_CONSUMER", message: "too many events during catch-up" });
          return;
        }
        buffered.push(event);
        return;
      }
      enqueueLive(event);
    },
    goLive() {
      if (closed || live) return;
      live = true;
      const pending = buffered.splice(0);
      for (const e of pending) {
        if (closed) return;
        enqueueLive(e);
      }
    },
    close,
    async *batches(maxBatch) {
      try {
        for (;;) {
          if (queue.length > 0) {
            const batch = queue.splice(0, maxBatch);
            if (wakeWriters.length > 0 && queue.length < cfg.queueLimit) {
              const ws = wakeWriters;
              wakeWriters = [];
              for (const w of ws) w();
            }
            yield batch;
            continue;
          }
          if (closed) break;
          await new Promise<void>((r) => (wakeReader = r));
        }
        if (failure) throw failure;
      } finally {
        // The consumer went away (client cancelled, connection lost): the session ends too.
        if (!closed) close();
      }
    },
  };
}

