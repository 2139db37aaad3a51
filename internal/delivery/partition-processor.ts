import type { Logger } from "pino";
import {
  isParticipant,
  type Conversation,
  type ConversationId,
  type DeviceId,
  type Seq,
  type StoredMessage,
  type UserId,
  type Watermarks,
} from "../domain/index.ts";
import { decodeClientEvent, type ClientEvent } from "../log/log-event-codec.ts";
import type { LogBatch } from "../log/index.ts";
import type { DeliveryEvent, PushLink } from "../push/index.ts";
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

/** A decoded record of the batch, with its dedup lookup under way (sends only). */
interface Entry {
  readonly ev: ClientEvent;
  readonly seq: Seq;
  readonly conv: Conversation;
  readonly stored: Promise<Seq | undefined> | undefined;
}

/** One (conversation, user)'s watermark advances within a batch, merged. */
interface WatermarkAdvance {
  readonly conv: Conversation;
  readonly userId: UserId;
  readonly before: Watermarks;
  deliveredSeq: Seq;
  readSeq: Seq;
  after?: Watermarks;
}

type PushStep =
  | { type: "message"; users: UserId[]; message: StoredMessage }
  | { type: "send_result"; user: UserId; device: DeviceId; event: Extract<DeliveryEvent, { type: "send_result" }> }
  | { type: "receipt"; key: string };

/** One device's cursor in one conversation, raised to `seq`. */
interface CursorAdvance {
  readonly deviceId: DeviceId;
  readonly conversationId: ConversationId;
  readonly seq: Seq;
}

/** What a batch writes and pushes, decided before anything is written. */
interface BatchPlan {
  readonly messages: StoredMessage[];
  readonly cursors: Map<string, CursorAdvance>;
  readonly watermarks: Map<string, WatermarkAdvance>;
  /** clientMsgId -> seq for the sends this batch sequences. */
  readonly sequenced: Map<string, Seq>;
  readonly steps: PushStep[];
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

  /** The stored watermarks of (conversation, user), from the cache when this state has seen them. */
  const watermarksOf = async (state: PartitionState, conv: ConversationId, user: UserId): Promise<Watermarks> => {
    const key = `${conv}|${user}`;
    const hit = state.watermarks.get(key);
    if (hit) return hit;
    const all = await store.getWatermarks(conv);
    const w = all.get(user) ?? { deliveredSeq: 0, readSeq: 0 };
    state.watermarks.set(key, w);
    return w;
  };

  /**
   * Decides what one record does, in log order, reading only: the writes it
   * implies go into `plan`. A send within the batch that repeats an earlier
   * one of the same batch is a duplicate even though neither is stored yet.
   */
  async function planRecord(entry: Entry, state: PartitionState, plan: BatchPlan): Promise<void> {
    const { ev, seq, conv } = entry;
    if (ev.type === "send") {
      const dedupKey = `${conv.id}|${ev.clientMsgId}`;
      const original = plan.sequenced.get(dedupKey) ?? (await entry.stored);
      if (original !== undefined && original !== seq) {
        // A retry of a message already sequenced: nothing new is stored; the
        // sender learns the original seq.
        plan.steps.push({
          type: "send_result", user: ev.userId, device: ev.deviceId,
          event: { type: "send_result", conversationId: conv.id, clientMsgId: ev.clientMsgId, seq: original, duplicate: true },
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
      state.lastSeq.set(conv.id, seq);
      plan.sequenced.set(dedupKey, seq);
      plan.messages.push(message);
      plan.steps.push({ type: "message", users: [conv.userA, conv.userB], message });
      plan.steps.push({
        type: "send_result", user: ev.userId, device: ev.deviceId,
        event: { type: "send_result", conversationId: conv.id, clientMsgId: ev.clientMsgId, seq, duplicate: false },
      });
      return;
    }
    // Clamp to the head as of this record's position: deterministic, and a
    // watermark can never point past the conversation's last message.
    const head = await lastSeqBefore(state, conv.id, seq);
    state.lastSeq.set(conv.id, head);
    const target = Math.min(ev.seq, head);
    if (target <= 0) return;
    const cursorKey = `${ev.deviceId}|${conv.id}`;
    const cursor = plan.cursors.get(cursorKey);
    plan.cursors.set(cursorKey, { deviceId: ev.deviceId, conversationId: conv.id, seq: Math.max(cursor?.seq ?? 0, target) });
    const key = `${conv.id}|${ev.userId}`;
    let advance = plan.watermarks.get(key);
    if (!advance) {
      const before = await watermarksOf(state, conv.id, ev.userId);
      advance = { conv, userId: ev.userId, before, deliveredSeq: 0, readSeq: 0 };
      plan.watermarks.set(key, advance);
      plan.steps.push({ type: "receipt", key });
    }
    if (ev.type === "ack") advance.deliveredSeq = Math.max(advance.deliveredSeq, target);
    else advance.readSeq = Math.max(advance.readSeq, target);
  }

  /**
   * The batch's writes, issued together so the store can group them (one
   * SQLite transaction, concurrent Cassandra requests). A watermark or cursor
   * never points at a message that is not stored yet: one that reaches a
   * message of this batch is written after the messages; the others (an ack
   * of earlier messages, the common case) go alongside them. Every write is
   * idempotent and monotonic, so issuing them together instead of record by
   * record leaves the same rows.
   */
  async function writePlan(plan: BatchPlan, state: PartitionState): Promise<void> {
    // The lowest seq the batch stores per conversation: everything below it was stored before.
    const firstNewSeq = new Map<ConversationId, Seq>();
    for (const m of plan.messages) if (!firstNewSeq.has(m.conversationId)) firstNewSeq.set(m.conversationId, m.seq);
    const awaitsMessages = (conv: ConversationId, seq: Seq) => seq >= (firstNewSeq.get(conv) ?? Infinity);
    const cursors = [...plan.cursors.values()];
    const advances = [...plan.watermarks];
    const [cursorsAfter, cursorsNow] = split(cursors, (c) => awaitsMessages(c.conversationId, c.seq));
    const [advancesAfter, advancesNow] = split(advances, ([, a]) =>
      awaitsMessages(a.conv.id, Math.max(a.deliveredSeq, a.readSeq)),
    );
    const messages = timed("append_message", plan.messages.length, () =>
      Promise.all(plan.messages.map((m) => store.appendMessage(m))),
    );
    await Promise.all([
      messages,
      writeMarks(cursorsNow, advancesNow, state),
      messages.then(() => writeMarks(cursorsAfter, advancesAfter, state)),
    ]);
  }

  async function writeMarks(
    cursors: readonly CursorAdvance[],
    advances: readonly (readonly [string, WatermarkAdvance])[],
    state: PartitionState,
  ): Promise<void> {
    await timed("advance_watermarks", cursors.length + advances.length, () =>
      Promise.all([
        ...cursors.map((c) => store.advanceDeviceCursor(c.deviceId, c.conversationId, c.seq)),
        ...advances.map(async ([key, a]) => {
          const to = { deliveredSeq: a.deliveredSeq || undefined, readSeq: a.readSeq || undefined };
          const stored = await store.advanceWatermarks(a.conv.id, a.userId, to);
          // The store may report only what this write guarantees; `before` is known stored too.
          a.after = {
            deliveredSeq: Math.max(stored.deliveredSeq, a.before.deliveredSeq),
            readSeq: Math.max(stored.readSeq, a.before.readSeq),
          };
          state.watermarks.set(key, a.after);
        }),
      ]),
    );
  }

  /** Runs `write` under the store latency metric of `op`; nothing when there is nothing to write. */
  async function timed(op: string, count: number, write: () => Promise<unknown>): Promise<void> {
    if (count === 0) return;
    const stop = deps.metrics?.storeWriteSeconds.startTimer({ op });
    await write();
    stop?.();
  }

  /** The batch's pushes, in record order; a receipt only where a watermark moved. */
  function pushPlan(plan: BatchPlan): PushBatch {
    const out = createPushBatch(deps);
    for (const step of plan.steps) {
      if (step.type === "message") out.toUsers(step.users, { type: "message", message: step.message });
      else if (step.type === "send_result") out.toDevice(step.user, step.device, step.event);
      else {
        const a = plan.watermarks.get(step.key)!;
        const after = a.after!;
        if (after.deliveredSeq !== a.before.deliveredSeq || after.readSeq !== a.before.readSeq) {
          out.receipt(a.conv.id, [a.conv.userA, a.conv.userB], a.userId, after);
        }
      }
    }
    return out;
  }

  /** Decodes the batch's records; invalid ones are logged and left out. */
  async function entriesOf(batch: LogBatch): Promise<Entry[]> {
    const entries: Entry[] = [];
    for (const record of batch.records) {
      const ev = decodeClientEvent(record.value);
      const conv = ev && (await conversationOf(ev.conversationId));
      if (!ev || !conv || !isParticipant(conv, ev.userId as UserId)) {
        // The gateway validates before producing; a record that still fails is
        // skipped (and its offset committed) rather than blocking the partition.
        logger.warn({ partition: record.partition, offset: record.offset }, "skipping invalid log record");
        continue;
      }
      // Dedup lookups of all sends start at once; planning awaits them in order.
      const stored = ev.type === "send" ? store.findDedup(conv.id, ev.clientMsgId) : undefined;
      stored?.catch(() => {}); // awaited in planRecord; do not report it unhandled meanwhile
      entries.push({ ev, seq: seqOf(record, cfg.generation), conv, stored });
    }
    return entries;
  }

  return {
    async handleBatch(batch) {
      const state = stateOf(batch.partition, batch.records[0]!.offset);
      deps.metrics?.batchRecords.observe(batch.records.length);
      const plan: BatchPlan = { messages: [], cursors: new Map(), watermarks: new Map(), sequenced: new Map(), steps: [] };
      try {
        const entries = await entriesOf(batch);
        for (const entry of entries) {
          // A revoked partition stops here; the uncommitted rest goes to the new owner.
          if (batch.signal.aborted) throw new Error("partition revoked");
          await planRecord(entry, state, plan);
        }
        if (batch.signal.aborted) throw new Error("partition revoked");
        await writePlan(plan, state);
        state.nextOffset = batch.records[batch.records.length - 1]!.offset + 1;
        // Push only after the store writes: a device that receives a message can
        // always fetch it again, and its ack can never outrun the stored head.
        await pushPlan(plan).flush();
        const newestAcceptedAtMs = entries.reduce((n, e) => Math.max(n, e.ev.acceptedAtMs), 0);
        if (deps.metrics && newestAcceptedAtMs > 0) {
          deps.metrics.consumerLagSeconds.set({ partition: String(batch.partition) }, (Date.now() - newestAcceptedAtMs) / 1000);
        }
      } catch (err) {
        // The cache may hold values of writes that did not happen: start afresh.
        states.delete(batch.partition);
        throw err;
      }
    },
    reset(partitions) {
      for (const p of partitions) states.delete(p);
    },
  };
}

/** The items for which `test` holds, and the others, each in their order. */
function split<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}
