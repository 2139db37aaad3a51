import type { Logger } from "pino";
import {
  isParticipant,
  type Conversation,
  type ConversationId,
  type Seq,
  type StoredMessage,
  type UserId,
  type Watermarks,
} from "../domain/index.ts";
import { decodeClientEvent, type ClientEvent } from "../log/log-event-codec.ts";
import type { LogBatch } from "../log/index.ts";
import type { PushLink } from "../push/index.ts";
import type { RoutingTable } from "../routing/index.ts";
import type { MessageStore } from "../store/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { createPushBatch, type PushBatch } from "./push-batch.ts";
import { seqOf } from "./sequencing.ts";

export interface PartitionProcessorDeps {
  readonly store: MessageStore;
  readonly routing: RoutingTable;
  readonly push: PushLink;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/** Applies log batches to the store and pushes the results (one per worker process). */
export interface PartitionProcessor {
  handleBatch(batch: LogBatch): Promise<void>;
  /** Forgets cached state of partitions that changed owner. */
  reset(partitions: readonly number[]): void;
}

/**
 * Per-partition memory. `lastSeq` holds, for conversations touched since the
 * state was created, the seq of the last message at or before the current log
 * position. It is seeded from the store with lastSeqBefore(conv, seq) — the
 * highest seq *below* the record being processed — so it is right even when a
 * zombie owner has already written further ahead, and every worker that
 * processes the same record computes the same prev_seq (byte-identical rows).
 */
interface PartitionState {
  readonly lastSeq: Map<ConversationId, Seq>;
  readonly watermarks: Map<string, Watermarks>;
  /** Offset right after the last record this state has seen. */
  nextOffset: number | undefined;
}

const MAX_CACHED = 100_000;

export function createPartitionProcessor(cfg: { generation: number }, deps: PartitionProcessorDeps): PartitionProcessor {
  const { store, logger } = deps;
  const states = new Map<number, PartitionState>();
  const conversations = new Map<ConversationId, Conversation>();

  const stateOf = (partition: number, firstOffset: number): PartitionState => {
    let s = states.get(partition);
    // The cache describes the log up to nextOffset. A batch that does not
    // continue there (another owner moved the partition on while this member
    // was expelled, a seek, a replay) would meet stale values: start afresh.
    const continues = s?.nextOffset === undefined || s.nextOffset === firstOffset;
    if (!s || !continues || s.lastSeq.size > MAX_CACHED || s.watermarks.size > MAX_CACHED) {
      // Dropping the cache is always safe: it is re-seeded relative to the current record.
      s = { lastSeq: new Map(), watermarks: new Map(), nextOffset: undefined };
      states.set(partition, s);
    }
    return s;
  };

  const conversationOf = async (id: ConversationId): Promise<Conversation | undefined> => {
    const hit = conversations.get(id);
    if (hit) return hit;
    const c = await store.getConversation(id);
    if (c) {
      if (conversations.size > MAX_CACHED) conversations.clear();
      conversations.set(id, c);
    }
    return c;
  };

  const lastSeqBefore = async (state: PartitionState, conv: ConversationId, seq: Seq): Promise<Seq> => {
    const cached = state.lastSeq.get(conv);
    if (cached !== undefined && cached < seq) return cached;
    return store.lastSeqBefore(conv, seq);
  };

  async function applySend(
    ev: Extract<ClientEvent, { type: "send" }>,
    seq: Seq,
    conv: Conversation,
    state: PartitionState,
    out: PushBatch,
  ): Promise<void> {
    const original = await store.findDedup(conv.id, ev.clientMsgId);
    if (original !== undefined && original !== seq) {
      // A retry of a message already sequenced: nothing new is stored; the
      // sender learns the original seq.
      out.toDevice(ev.userId, ev.deviceId, {
        type: "send_result",
        conversationId: conv.id,
        clientMsgId: ev.clientMsgId,
        seq: original,
        duplicate: true,
      });
      return;
    }
    // original === seq means this very record was stored before (replay after a
    // crash, or a racing owner): rewriting it yields identical rows.
    const message: StoredMessage = {
      conversationId: conv.id,
      seq,
      prevSeq: await lastSeqBefore(state, conv.id, seq),
      senderUserId: ev.userId,
      senderDeviceId: ev.deviceId,
      clientMsgId: ev.clientMsgId,
      text: ev.text,
      sentAtMs: ev.acceptedAtMs,
    };
    const stop = deps.metrics?.storeWriteSeconds.startTimer({ op: "append_message" });
    await store.appendMessage(message);
    stop?.();
    state.lastSeq.set(conv.id, seq);
    out.toUsers([conv.userA, conv.userB], { type: "message", message });
    out.toDevice(ev.userId, ev.deviceId, {
      type: "send_result",
      conversationId: conv.id,
      clientMsgId: ev.clientMsgId,
      seq,
      duplicate: false,
    });
  }

  async function applyReceipt(
    ev: Extract<ClientEvent, { type: "ack" | "read" }>,
    seq: Seq,
    conv: Conversation,
    state: PartitionState,
    out: PushBatch,
  ): Promise<void> {
    // Clamp to the head as of this record's position: deterministic, and a
    // watermark can never point past the conversation's last message.
    const head = await lastSeqBefore(state, conv.id, seq);
    state.lastSeq.set(conv.id, head);
    const target = Math.min(ev.seq, head);
    if (target <= 0) return;
    await store.advanceDeviceCursor(ev.deviceId, conv.id, target);
    const key = `${conv.id}|${ev.userId}`;
    let before = state.watermarks.get(key);
    if (!before) {
      const all = await store.getWatermarks(conv.id);
      before = all.get(ev.userId) ?? { deliveredSeq: 0, readSeq: 0 };
    }
    const stop = deps.metrics?.storeWriteSeconds.startTimer({ op: "advance_watermarks" });
    const after = await store.advanceWatermarks(
      conv.id,
      ev.userId,
      ev.type === "ack" ? { deliveredSeq: target } : { readSeq: target },
    );
    stop?.();
    state.watermarks.set(key, after);
    if (after.deliveredSeq !== before.deliveredSeq || after.readSeq !== before.readSeq) {
      out.receipt(conv.id, [conv.userA, conv.userB], ev.userId, after);
    }
  }

  return {
    async handleBatch(batch) {
      const state = stateOf(batch.partition, batch.records[0]!.offset);
      const out = createPushBatch(deps);
      deps.metrics?.batchRecords.observe(batch.records.length);
      let newestAcceptedAtMs = 0;
      try {
        for (const record of batch.records) {
          // A revoked partition stops here; the uncommitted rest goes to the new owner.
          if (batch.signal.aborted) throw new Error("partition revoked");
          const ev = decodeClientEvent(record.value);
          const seq = seqOf(record, cfg.generation);
          const conv = ev && (await conversationOf(ev.conversationId));
          if (!ev || !conv || !isParticipant(conv, ev.userId as UserId)) {
            // The gateway validates before producing; a record that still fails is
            // skipped (and its offset committed) rather than blocking the partition.
            logger.warn({ partition: record.partition, offset: record.offset }, "skipping invalid log record");
            continue;
          }
          newestAcceptedAtMs = Math.max(newestAcceptedAtMs, ev.acceptedAtMs);
          if (ev.type === "send") await applySend(ev, seq, conv, state, out);
          else await applyReceipt(ev, seq, conv, state, out);
        }
      } catch (err) {
        states.delete(batch.partition);
        throw err;
      }
      state.nextOffset = batch.records[batch.records.length - 1]!.offset + 1;
      // Push only after the store writes: a device that receives a message can
      // always fetch it again, and its ack can never outrun the stored head.
      await out.flush();
      if (deps.metrics && newestAcceptedAtMs > 0) {
        deps.metrics.consumerLagSeconds.set({ partition: String(batch.partition) }, (Date.now() - newestAcceptedAtMs) / 1000);
      }
    },
    reset(partitions) {
      for (const p of partitions) states.delete(p);
    },
  };
}
