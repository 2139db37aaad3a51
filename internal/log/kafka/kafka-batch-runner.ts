import type { EachBatchPayload, KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { sleepUnlessAborted } from "../../domain/index.ts";
import type { ConsumeOptions, LogRecord } from "../message-log.ts";
import { isGenerationLost } from "./kafka-client.ts";

/**
 * One group generation of a member as this process saw it. Its controller aborts when the
 * generation ends (rebalance noticed, new assignment, crash, stop): every batch started in
 * it sees its signal abort, and nothing started in it commits afterwards.
 */
export interface Generation {
  readonly controller: AbortController;
  /** The batches' signal: the member's stop or the end of this generation (one per generation, not per batch). */
  readonly signal: AbortSignal;
  /** The kafkajs error that showed the generation was lost, rethrown so that kafkajs rejoins at once. */
  lostBy?: unknown;
}

export interface BatchRunnerParams {
  readonly options: ConsumeOptions;
  /** The member's stop signal (consume() signal or log close). */
  readonly stop: AbortSignal;
  readonly currentGeneration: () => Generation;
  readonly heartbeatIntervalMs: number;
  /** See KafkaLogConfig.fetchIntervalMs. */
  readonly fetchIntervalMs: number;
  /** See KafkaLogConfig.commitIntervalMs. */
  readonly commitIntervalMs: number;
  /** Commits offsets (next offset to read, per partition) with the member's current generation. */
  readonly commit: (offsets: readonly { partition: number; offset: string }[]) => Promise<void>;
}

/** A generation that ends when `controller` aborts or the member stops. */
export function newGeneration(stop: AbortSignal): Generation {
  const controller = new AbortController();
  return { controller, signal: AbortSignal.any([stop, controller.signal]) };
}

/** kafkajs' eachBatch for one member, plus the per-partition retry timers it owns. */
export interface BatchRunner {
  eachBatch(payload: EachBatchPayload): Promise<void>;
  /** Commits what was handled and not yet committed, if its generation is still current. */
  flushCommits(): Promise<void>;
  /** Cancels pending retry and commit timers; the member is leaving. */
  close(): void;
}

/** A partition's handled offset waiting for the next commit. */
interface PendingCommit {
  readonly offset: number;
  readonly generation: Generation;
}

const DEFAULT_MAX_BATCH_RECORDS = 500;
const MIN_RETRY_DELAY_MS = 50;
const MAX_RETRY_DELAY_MS = 1_000;

/**
 * Hands kafkajs batches to the handler in chunks of at most maxBatchRecords and commits each
 * chunk's end offset only after the handler resolved for it: every commitIntervalMs, the
 * handled offsets of all partitions in one request.
 *
 * Rules this exists to keep:
 * - commit only offsets whose handler resolved, with the generation they were handled in still
 *   current: a revoked member never commits for a partition that moved on (the broker also
 *   refuses a stale generation's commit once the group has moved on), and an offset not yet
 *   committed when the partition moves is simply handled again by its next owner;
 * - while the handler runs, heartbeat: a long batch neither lets the session expire nor
 *   hides a rebalance, which aborts the batch's signal;
 * - a failed chunk is not resolved, so the partition is fetched again from it; meanwhile the
 *   partition is paused for a growing delay, so a poison record neither spins the CPU nor
 *   holds up the other partitions of the fetch (kafkajs only fetches again once every batch of
 *   the previous fetch returned).
 */
export function createBatchRunner(params: BatchRunnerParams, deps: { logger: Logger }): BatchRunner {
  const { options, stop, currentGeneration, heartbeatIntervalMs, fetchIntervalMs, commitIntervalMs } = params;
  const maxBatchRecords = options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
  const retryDelayMs = new Map<number, number>();
  const retryTimers = new Set<ReturnType<typeof setTimeout>>();
  const pending = new Map<number, PendingCommit>();
  let commitTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> | undefined;
  let lastFlushAt = Number.NEGATIVE_INFINITY;

  /** Commits every pending offset of the current generation; the others are dropped. */
  async function commitPending(): Promise<void> {
    const generation = currentGeneration();
    const due = [...pending].filter(([, p]) => p.generation === generation);
    for (const [partition, p] of pending) if (p.generation !== generation) pending.delete(partition);
    if (due.length === 0 || generation.controller.signal.aborted) return;
    lastFlushAt = performance.now();
    try {
      await params.commit(due.map(([partition, p]) => ({ partition, offset: String(p.offset) })));
    } catch (err) {
      if (isGenerationLost(err)) {
        pending.clear();
        loseGeneration(generation, err);
        return;
      }
      // Kept for the next round: a later commit of the same partition carries a higher offset.
      deps.logger.warn({ err, partitions: due.map(([partition]) => partition) }, "kafka offset commit failed");
      return;
    }
    for (const [partition, p] of due) if (pending.get(partition) === p) pending.delete(partition);
  }

  /** One commit request at a time; a caller waits for the one in flight, then sends its own. */
  async function flushCommits(): Promise<void> {
    if (commitTimer !== undefined) clearTimeout(commitTimer);
    commitTimer = undefined;
    while (flushing !== undefined) await flushing;
    flushing = commitPending();
    try {
      await flushing;
    } finally {
      flushing = undefined;
      if (pending.size > 0) scheduleCommit();
    }
  }

  function scheduleCommit(): void {
    if (commitTimer !== undefined || flushing !== undefined || stop.aborted) return;
    const delayMs = Math.max(0, lastFlushAt + commitIntervalMs - performance.now());
    commitTimer = setTimeout(() => {
      commitTimer = undefined;
      void flushCommits();
    }, delayMs);
  }

  function retryLater(partition: number, pause: () => () => void): void {
    const delayMs = retryDelayMs.get(partition) ?? MIN_RETRY_DELAY_MS;
    retryDelayMs.set(partition, Math.min(delayMs * 2, MAX_RETRY_DELAY_MS));
    const resume = pause();
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      resume();
    }, delayMs);
    retryTimers.add(timer);
  }

  /** Runs the handler on one chunk; true when it resolved and the chunk is committed. */
  async function handleChunk(payload: EachBatchPayload, records: LogRecord[], generation: Generation): Promise<boolean> {
    const partition = payload.batch.partition;
    const signal = generation.signal;
    const firstOffset = records[0]!.offset;
    const lastOffset = records[records.length - 1]!.offset;
    const logger = deps.logger.child({ partition, firstOffset, lastOffset });
    const heartbeats = setInterval(() => {
      payload.heartbeat().catch((err: unknown) => {
        if (isGenerationLost(err)) loseGeneration(generation, err);
        else logger.debug({ err }, "kafka heartbeat failed");
      });
    }, heartbeatIntervalMs);
    try {
      await Promise.resolve().then(() => options.handler({ partition, records, signal }));
    } catch (err) {
      if (signal.aborted) return false;
      logger.error({ err, retryDelayMs: retryDelayMs.get(partition) ?? MIN_RETRY_DELAY_MS }, "log batch handler failed");
      retryLater(partition, payload.pause);
      return false;
    } finally {
      clearInterval(heartbeats);
    }
    // Finished after the partition was revoked or the member began to stop: the next owner
    // starts at the last commit and must see this chunk again.
    if (signal.aborted || currentGeneration() !== generation) return false;
    pending.set(partition, { offset: lastOffset + 1, generation });
    scheduleCommit();
    payload.resolveOffset(String(lastOffset));
    retryDelayMs.delete(partition);
    return true;
  }

  return {
    async eachBatch(payload) {
      const startedAt = performance.now();
      const generation = currentGeneration();
      const records = payload.batch.messages.map((message) => toLogRecord(payload.batch.partition, message));
      for (let start = 0; start < records.length; start += maxBatchRecords) {
        if (generation.signal.aborted) break;
        const handled = await handleChunk(payload, records.slice(start, start + maxBatchRecords), generation);
        if (!handled) break;
      }
      // A lost generation must end this fetch round with kafkajs' own error: that is what makes
      // it rejoin now, after every batch of the round returned (none of them committing).
      if (generation.lostBy !== undefined && !stop.aborted) throw generation.lostBy;
      // kafkajs fetches again once every batch of this round returned: holding the round open
      // for the rest of the interval lets the next fetch find several records per partition.
      const restMs = fetchIntervalMs - (performance.now() - startedAt);
      if (restMs > 0 && !generation.signal.aborted) await sleepUnlessAborted(restMs, generation.signal);
    },
    flushCommits,
    close() {
      for (const timer of retryTimers) clearTimeout(timer);
      retryTimers.clear();
      if (commitTimer !== undefined) clearTimeout(commitTimer);
      commitTimer = undefined;
    },
  };
}

function loseGeneration(generation: Generation, err: unknown): void {
  generation.lostBy ??= err;
  generation.controller.abort(err);
}

function toLogRecord(partition: number, message: KafkaMessage): LogRecord {
  return {
    partition,
    offset: Number(message.offset),
    key: message.key?.toString("utf8") ?? "",
    value: message.value ?? new Uint8Array(0),
  };
}
