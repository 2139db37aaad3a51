import type { ChatEvent } from "../client/index.ts";
import { createLatencyHistogram, type LatencySummary } from "./latency-histogram.ts";

/** One sent message in flight. */
interface Entry {
  readonly scheduledUs: number;
  /** Scheduled inside the measured window: its latencies count. */
  readonly measured: boolean;
  accepted: boolean;
  received: boolean;
  delivered: boolean;
  seq?: number;
}

/** Counts and latencies of the tracked messages. */
export interface TrackerResult {
  /** scheduled send -> first device of the recipient stores it. */
  readonly e2e: LatencySummary;
  /** scheduled send -> SendAccepted ("sent": the log holds it). */
  readonly sentAck: LatencySummary;
  /** scheduled send -> a sender device learns the recipient's delivered watermark covers it. */
  readonly deliveredReceipt: LatencySummary;
  readonly sent: number;
  /** Measured messages no recipient device held when the result was taken (after the drain): lost or very late. */
  readonly lost: number;
  /** Messages first received by a recipient inside the window. */
  readonly receivedInWindow: number;
  /** Every tracked message stored by any device inside the window (recipients and the sender's devices). */
  readonly deviceDeliveriesInWindow: number;
  /** StreamError reasons seen by the devices. */
  readonly serverErrors: Record<string, number>;
  /** Why streams ended (a healthy run has none). */
  readonly streamFailures: Record<string, number>;
  /** Per second of the window (by scheduled send time): the worst end-to-end latency, to see whether slow messages cluster. */
  readonly e2eMaxMsBySecond: readonly number[];
}

/**
 * Follows every message the bench sends through the events of all devices:
 * the sender's "sent" tick, the first arrival at a device of the recipient,
 * and the recipient's delivered watermark as the sender's devices see it.
 * All latencies run from the scheduled send time.
 */
export interface MessageTracker {
  register(clientMsgId: string, scheduledUs: number): void;
  /** Feeds one event of a device of user `userId`, seen at `nowUs`. */
  observe(userId: string, event: ChatEvent, nowUs: number): void;
  /** Registered messages no recipient has yet. */
  backlog(): number;
  /** Measured messages still waiting for any of their three events. */
  outstandingMeasured(): number;
  /** Ends the window early (the phase was aborted): later arrivals no longer count as in-window throughput. */
  closeWindow(atUs: number): void;
  result(): TrackerResult;
}

/** A tracker whose measured window is [windowStartUs, windowEndUs) on the bench clock. */
export function createMessageTracker(window: { readonly startUs: number; endUs: number }): MessageTracker {
  const entries = new Map<string, Entry>();
  const e2e = createLatencyHistogram();
  const sentAck = createLatencyHistogram();
  const deliveredReceipt = createLatencyHistogram();
  /** Keyed by `${conversationId}|${senderUserId}`: own messages with a known seq, not yet covered by the peer's watermark. */
  const awaitingDelivery = new Map<string, { seq: number; clientMsgId: string }[]>();
  /** Keyed the same way: the delivered watermark of that sender's peer. */
  const peerDelivered = new Map<string, number>();
  const serverErrors: Record<string, number> = {};
  const streamFailures: Record<string, number> = {};
  let sent = 0;
  let backlog = 0;
  let outstanding = 0;
  let receivedInWindow = 0;
  let deviceDeliveriesInWindow = 0;
  const maxBySecond: number[] = [];

  const inWindow = (us: number): boolean => us >= window.startUs && us < window.endUs;
  const settle = (id: string, entry: Entry): void => {
    if (!(entry.accepted && entry.received && entry.delivered)) return;
    entries.delete(id);
    if (entry.measured) outstanding--;
  };
  const markDelivered = (key: string, nowUs: number): void => {
    const mark = peerDelivered.get(key) ?? 0;
    const waiting = awaitingDelivery.get(key);
    if (!waiting) return;
    const still = waiting.filter(({ seq, clientMsgId }) => {
      if (seq > mark) return true;
      const entry = entries.get(clientMsgId);
      if (entry && !entry.delivered) {
        entry.delivered = true;
        if (entry.measured) deliveredReceipt.recordUs(nowUs - entry.scheduledUs);
        settle(clientMsgId, entry);
      }
      return false;
    });
    if (still.length > 0) awaitingDelivery.set(key, still);
    else awaitingDelivery.delete(key);
  };

  type Held = { readonly clientMsgId: string; readonly senderUserId: string; readonly seq: number };
  const onMessages = (userId: string, conversationId: string, messages: readonly Held[], nowUs: number): void => {
    for (const m of messages) {
      const entry = entries.get(m.clientMsgId);
      if (!entry) continue;
      if (inWindow(nowUs)) deviceDeliveriesInWindow++;
      if (m.senderUserId !== userId) {
        if (entry.received) continue;
        entry.received = true;
        backlog--;
        if (inWindow(nowUs)) receivedInWindow++;
        if (entry.measured) {
          e2e.recordUs(nowUs - entry.scheduledUs);
          const second = Math.floor((entry.scheduledUs - window.startUs) / 1e6);
          maxBySecond[second] = Math.max(maxBySecond[second] ?? 0, Math.round((nowUs - entry.scheduledUs) / 1000));
        }
        settle(m.clientMsgId, entry);
      } else if (entry.seq === undefined) {
        // The sender's own sequenced copy tells the seq the receipts refer to.
        entry.seq = m.seq;
        const key = `${conversationId}|${userId}`;
        const waiting = awaitingDelivery.get(key) ?? [];
        waiting.push({ seq: m.seq, clientMsgId: m.clientMsgId });
        awaitingDelivery.set(key, waiting);
        markDelivered(key, nowUs);
      }
    }
  };

  return {
    register(clientMsgId, scheduledUs) {
      const measured = inWindow(scheduledUs);
      entries.set(clientMsgId, { scheduledUs, measured, accepted: false, received: false, delivered: false });
      sent++;
      backlog++;
      if (measured) outstanding++;
    },
    observe(userId, event, nowUs) {
      switch (event.type) {
        case "messages":
          onMessages(userId, event.conversationId, event.messages, nowUs);
          return;
        case "send": {
          if (event.tick === "pending" || event.tick === "failed") return;
          const entry = entries.get(event.clientMsgId);
          if (!entry || entry.accepted) return;
          entry.accepted = true;
          if (entry.measured) sentAck.recordUs(nowUs - entry.scheduledUs);
          settle(event.clientMsgId, entry);
          return;
        }
        case "receipt": {
          if (event.receipt.userId === userId) return;
          // The peer's watermark, as one of the sender's devices learns it.
          const key = `${event.receipt.conversationId}|${userId}`;
          if (event.receipt.deliveredSeq <= (peerDelivered.get(key) ?? 0)) return;
          peerDelivered.set(key, event.receipt.deliveredSeq);
          markDelivered(key, nowUs);
          return;
        }
        case "server-error":
          serverErrors[event.reason] = (serverErrors[event.reason] ?? 0) + 1;
          return;
        case "connection":
          if (event.state === "waiting" && event.failure) {
            const key = `${event.failure.code}/${event.failure.reason}`;
            streamFailures[key] = (streamFailures[key] ?? 0) + 1;
          }
          return;
        default:
          return;
      }
    },
    backlog: () => backlog,
    closeWindow(atUs) {
      window.endUs = Math.min(window.endUs, atUs);
    },
    outstandingMeasured: () => outstanding,
    result() {
      let lost = 0;
      for (const entry of entries.values()) if (entry.measured && !entry.received) lost++;
      return {
        e2e: e2e.summary(),
        sentAck: sentAck.summary(),
        deliveredReceipt: deliveredReceipt.summary(),
        sent,
        lost,
        receivedInWindow,
        deviceDeliveriesInWindow,
        serverErrors,
        streamFailures,
        e2eMaxMsBySecond: Array.from(maxBySecond, (v) => v ?? 0),
      };
    },
  };
}
