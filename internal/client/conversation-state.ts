import type { ChatMessage, LocalSend, ReceiptRecord } from "./client-storage.ts";

/** Delivery state of an own message, as its ticks show it. */
export type Tick = "pending" | "sent" | "delivered" | "read" | "failed";

/** A participant's watermarks. */
export interface Watermarks {
  readonly deliveredSeq: number;
  readonly readSeq: number;
}

/** Messages the device knows exist but does not hold: seq in (afterSeq, beforeSeq). */
export interface Gap {
  readonly afterSeq: number;
  readonly beforeSeq: number;
}

/**
 * Ticks from O(1) state per conversation: the message's seq against the
 * peer's watermarks, which only rise, so nothing is stored per message.
 */
export function computeTick(send: Pick<LocalSend, "state" | "seq">, peer: Watermarks | undefined): Tick {
  if (send.state === "failed") return "failed";
  if (send.seq !== undefined && peer) {
    if (peer.readSeq >= send.seq) return "read";
    if (peer.deliveredSeq >= send.seq) return "delivered";
  }
  return send.state === "accepted" || send.seq !== undefined ? "sent" : "pending";
}

/**
 * What one device holds of one conversation: messages deduplicated by seq,
 * the cursor (the highest seq up to which nothing is missing), the first gap
 * above it, and the participants' receipt watermarks. Pure and synchronous;
 * persistence is the caller's business.
 *
 * seq is not dense, so contiguity follows prev_seq links: the message after
 * the cursor is the held message with the smallest seq above it, and it
 * continues the chain iff its prev_seq is at or below the cursor.
 */
export interface ConversationState {
  readonly conversationId: string;
  readonly cursor: number;
  /** Inserts a message; `false` when its seq is already held (a duplicate). */
  insert(message: ChatMessage): boolean;
  /** The missing range just above the cursor, if a later message is held. */
  gap(): Gap | undefined;
  /**
   * Where the chain starts for a device that holds nothing of the
   * conversation (a recent window follows from there). Ignored otherwise:
   * a device with history fills any distance by gap detection instead.
   */
  startAt(fromSeq: number): void;
  /** Drops messages and receipts; the next `startAt` sets the cursor. */
  reset(): void;
  /** Held messages ascending by seq. */
  messages(): readonly ChatMessage[];
  bySeq(seq: number): ChatMessage | undefined;
  byClientMsgId(clientMsgId: string): ChatMessage | undefined;
  /** True while older messages may exist on the server than the oldest held. */
  hasOlder(): boolean;
  /** The seq to page history backwards from (GetHistory before_seq), or 0 when there is nothing older. */
  olderThanSeq(): number;
  /** Raises a participant's watermarks; `true` if anything rose. */
  applyReceipt(receipt: Omit<ReceiptRecord, "conversationId">): boolean;
  receipt(userId: string): Watermarks | undefined;
  receipts(): ReceiptRecord[];
}

/** Creates the state of a conversation the device holds nothing of yet. */
export function createConversationState(conversationId: string, cursor = 0): ConversationState {
  let chainCursor = cursor;
  // Sorted by seq; arrivals are nearly always appends, so insertion is cheap.
  let ordered: ChatMessage[] = [];
  let bySeq = new Map<number, ChatMessage>();
  let byClientId = new Map<string, number>();
  let watermarks = new Map<string, Watermarks>();

  /** Index of the first held message with seq > `seq`. */
  const upperBound = (seq: number): number => {
    let lo = 0;
    let hi = ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ordered[mid] as ChatMessage).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const olderThanSeq = (): number => {
    const oldest = ordered[0];
    if (oldest) return oldest.prevSeq === 0 ? 0 : oldest.seq;
    // Nothing held: everything up to the cursor (if any) is older.
    return chainCursor > 0 ? chainCursor + 1 : 0;
  };

  const advance = (): void => {
    for (let i = upperBound(chainCursor); i < ordered.length; i++) {
      const next = ordered[i] as ChatMessage;
      // prev_seq below the cursor happens when the cursor came from a window
      // start (from_seq) rather than a held message: the chain still
      // vouches that nothing lies between prev_seq and seq.
      if (next.prevSeq > chainCursor) return;
      chainCursor = next.seq;
    }
  };

  return {
    conversationId,
    get cursor() {
      return chainCursor;
    },
    insert(message) {
      if (bySeq.has(message.seq)) return false;
      const at = upperBound(message.seq);
      if (at === ordered.length) ordered.push(message);
      else ordered.splice(at, 0, message);
      bySeq.set(message.seq, message);
      byClientId.set(message.clientMsgId, message.seq);
      if (message.seq > chainCursor) advance();
      return true;
    },
    gap() {
      const next = ordered[upperBound(chainCursor)];
      return next ? { afterSeq: chainCursor, beforeSeq: next.seq } : undefined;
    },
    startAt(fromSeq) {
      if (ordered.length === 0 && chainCursor === 0) chainCursor = fromSeq;
    },
    reset() {
      chainCursor = 0;
      ordered = [];
      bySeq = new Map();
      byClientId = new Map();
      watermarks = new Map();
    },
    messages() {
      return ordered;
    },
    bySeq(seq) {
      return bySeq.get(seq);
    },
    byClientMsgId(clientMsgId) {
      const seq = byClientId.get(clientMsgId);
      return seq === undefined ? undefined : bySeq.get(seq);
    },
    hasOlder: () => olderThanSeq() > 0,
    olderThanSeq,
    applyReceipt({ userId, deliveredSeq, readSeq }) {
      const old = watermarks.get(userId) ?? { deliveredSeq: 0, readSeq: 0 };
      // Read implies delivered, whatever order the events came in.
      const next = {
        deliveredSeq: Math.max(old.deliveredSeq, deliveredSeq, readSeq),
        readSeq: Math.max(old.readSeq, readSeq),
      };
      if (next.deliveredSeq === old.deliveredSeq && next.readSeq === old.readSeq && watermarks.has(userId)) return false;
      watermarks.set(userId, next);
      return true;
    },
    receipt(userId) {
      return watermarks.get(userId);
    },
    receipts() {
      return [...watermarks].map(([userId, w]) => ({ conversationId, userId, ...w }));
    },
  };
}
