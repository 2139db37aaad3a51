import type { Logger } from "pino";
import type { LogBatch } from "../message-log.ts";
import type { SqliteLogStorage } from "./sqlite-log-storage.ts";
import { nextTurn, sleepUnlessAborted } from "../../domain/index.ts";

/** One owned partition of one group member. */
export interface PartitionConsumerParams {
  readonly groupId: string;
  readonly memberId: string;
  readonly partition: number;
  readonly handler: (batch: LogBatch) => Promise<void>;
  readonly maxBatchRecords: number;
  /** Aborts on revocation or when the member stops; it is also the batches' signal. */
  readonly signal: AbortSignal;
}

const MIN_RETRY_DELAY_MS = 50;
const MAX_RETRY_DELAY_MS = 1_000;

/**
 * Feeds one partition to the handler until `signal` aborts: read from the
 * group's committed offset, hand over a batch, commit past it, repeat.
 *
 * Ordering rules this loop exists to keep:
 * - commit only after the handler resolved, so a crash replays, never skips;
 * - never commit once the signal aborted: the partition may already be on its
 *   way to another member, which starts from the committed offset and must see
 *   the unfinished batch again;
 * - a failed batch is retried as is (same records), after a growing delay, so a
 *   poison record cannot spin the CPU and later records cannot overtake it.
 */
export async function runPartitionConsumer(
  params: PartitionConsumerParams,
  deps: { storage: SqliteLogStorage; logger: Logger },
): Promise<void> {
  const { groupId, memberId, partition, handler, maxBatchRecords, signal } = params;
  const { storage } = deps;
  const logger = deps.logger.child({ groupId, memberId, partition });
  let nextOffset = storage.committedOffset(groupId, partition);
  let retryDelayMs = MIN_RETRY_DELAY_MS;

  while (!signal.aborted) {
    const records = storage.read(partition, nextOffset, maxBatchRecords);
    if (records.length === 0) {
      await storage.waitForRecord(partition, nextOffset, signal);
      continue;
    }
    const lastOffset = records[records.length - 1]!.offset;
    // Retry the same batch until it succeeds or the partition is taken away.
    for (;;) {
      try {
        await handler({ partition, records, signal });
        break;
      } catch (err) {
        if (signal.aborted) return;
        logger.error({ err, firstOffset: records[0]!.offset, lastOffset, retryDelayMs }, "log batch handler failed");
        await sleepUnlessAborted(retryDelayMs, signal);
        if (signal.aborted) return;
        retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
      }
    }
    if (signal.aborted) return;
    try {
      storage.commit(groupId, partition, lastOffset + 1);
    } catch (err) {
      // Handled but not committed: hand the batch over again rather than run ahead of the
      // committed offset; handlers already tolerate redelivery (they dedup).
      logger.error({ err, lastOffset }, "log offset commit failed");
      await sleepUnlessAborted(retryDelayMs, signal);
      continue;
    }
    nextOffset = lastOffset + 1;
    retryDelayMs = MIN_RETRY_DELAY_MS;
    // A full batch means a backlog; yield so I/O is served between batches of it.
    if (records.length === maxBatchRecords) await nextTurn();
  }
}
