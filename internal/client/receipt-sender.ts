import type { Watermarks } from "./conversation-state.ts";
import type { Timers } from "./runtime.ts";
import type { StreamLink } from "./stream-link.ts";

/** Timing of acks. */
export interface ReceiptSenderConfig {
  /** Acks of one conversation within this window go out as one (the highest). */
  readonly ackDelayMs: number;
  /** After the server dropped an ack or read (rate limit), resend after this. */
  readonly retryDelayMs: number;
}

/**
 * What the device tells the server about receipts. Only acks move the
 * recipient's "delivered", so each conversation's cursor is acked once the
 * messages up to it are stored; reads are sent when the user reads.
 *
 * Nothing here is persisted or confirmed per frame: the server's Receipt
 * events report the user's own watermarks, and after every catch-up (or a
 * dropped frame) `resync` resends whatever is still above them. A lost ack
 * or read therefore delays a tick; it never loses it.
 */
export interface ReceiptSender {
  /** The conversation's cursor moved: ack it (batched). */
  delivered(conversationId: string): void;
  /** The user has read up to seq. */
  read(conversationId: string, seq: number): void;
  /** Resend acks and reads still above the own watermarks (after catch-up). */
  resync(conversationIds: readonly string[]): void;
  /** Like resync, after retryDelayMs (a frame was refused as rate-limited). */
  resyncLater(conversationIds: () => readonly string[]): void;
  /** A new stream: what the previous one sent may not have arrived. */
  linkChanged(): void;
  stop(): void;
}

/** Creates a sender that acts on whatever stream `deps.link` returns at the time. */
export function createReceiptSender(
  cfg: ReceiptSenderConfig,
  deps: {
    readonly timers: Timers;
    readonly link: () => StreamLink | undefined;
    readonly cursor: (conversationId: string) => number;
    readonly own: (conversationId: string) => Watermarks | undefined;
  },
): ReceiptSender {
  const dueAcks = new Set<string>();
  const sentAcks = new Map<string, number>();
  const wantedReads = new Map<string, number>();
  const sentReads = new Map<string, number>();
  let cancelFlush: (() => void) | undefined;
  let cancelRetry: (() => void) | undefined;

  const flushAcks = (): void => {
    cancelFlush = undefined;
    const link = deps.link();
    for (const id of dueAcks) {
      const seq = deps.cursor(id);
      const floor = Math.max(deps.own(id)?.deliveredSeq ?? 0, sentAcks.get(id) ?? 0);
      if (!link || seq <= floor) continue;
      link.ack(id, seq);
      sentAcks.set(id, seq);
    }
    dueAcks.clear();
  };

  const sendRead = (id: string): void => {
    const seq = wantedReads.get(id) ?? 0;
    const floor = Math.max(deps.own(id)?.readSeq ?? 0, sentReads.get(id) ?? 0);
    const link = deps.link();
    if (!link || seq <= floor) return;
    link.markRead(id, seq);
    sentReads.set(id, seq);
  };

  const resync = (ids: readonly string[]): void => {
    sentAcks.clear();
    sentReads.clear();
    for (const id of ids) {
      dueAcks.add(id);
      sendRead(id);
    }
    flushAcks();
  };

  return {
    delivered(id) {
      dueAcks.add(id);
      cancelFlush ??= deps.timers.after(cfg.ackDelayMs, flushAcks);
    },
    read(id, seq) {
      if (seq > (wantedReads.get(id) ?? 0)) wantedReads.set(id, seq);
      sendRead(id);
    },
    resync,
    resyncLater(ids) {
      cancelRetry ??= deps.timers.after(cfg.retryDelayMs, () => {
        cancelRetry = undefined;
        resync(ids());
      });
    },
    linkChanged() {
      sentAcks.clear();
      sentReads.clear();
    },
    stop() {
      cancelFlush?.();
      cancelRetry?.();
      cancelFlush = cancelRetry = undefined;
      dueAcks.clear();
    },
  };
}
