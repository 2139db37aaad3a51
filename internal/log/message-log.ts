/**
 * The `messages` log port: a partitioned, durable, ordered log with consumer
 * groups (Kafka API semantics; Redpanda in production, Apache Kafka in tests,
 * an in-process log for the embedded default).
 *
 * Contract every adapter keeps (checked by describeMessageLog):
 * - Records with the same key always land in the same partition; the partition
 *   count is fixed at creation.
 * - `append` resolves only after the records are durable (acks=all) and returns
 *   each record's position; within a partition, offsets strictly increase in
 *   append order, so sequential appends from one caller keep their order.
 * - `append` rejects with BackendUnavailableError when the log cannot accept
 *   writes; the caller may retry (consumers dedup by client id).
 * - A consumer group assigns each partition to exactly one live member at a
 *   time (a member of *another* group reads the same records independently,
 *   which is how tests model a zombie owner).
 * - A group with no committed offset for a partition starts at its first
 *   record (Kafka: auto.offset.reset=earliest), so nothing appended before the
 *   first worker joined is skipped.
 * - Records of a partition reach the handler in offset order, in batches.
 *   The group's committed offset advances past a batch only after the handler
 *   resolved for it; if the handler throws, the batch is retried.
 * - When a partition is revoked, its in-flight batch finishes before the
 *   partition is handed over, and nothing is committed for it afterwards.
 * - A member that dies (its signal aborts mid-batch) commits nothing for the
 *   unfinished batch: the next owner receives those records again.
 */
export interface MessageLog {
  readonly partitionCount: number;
  /** Partition of a key (stable for the lifetime of the topic). */
  partitionOf(key: string): number;
  /** Appends records durably; positions are returned in input order. */
  append(records: readonly LogAppend[]): Promise<LogPosition[]>;
  /**
   * Joins `groupId` and runs until `signal` aborts, calling `handler` with
   * batches of the partitions currently assigned to this member.
   */
  consume(options: ConsumeOptions, signal: AbortSignal): Promise<void>;
  /** Releases connections; pending appends reject. */
  close(): Promise<void>;
}

export interface LogAppend {
  readonly key: string;
  readonly value: Uint8Array;
}

export interface LogPosition {
  readonly partition: number;
  readonly offset: number;
}

export interface LogRecord extends LogPosition {
  readonly key: string;
  readonly value: Uint8Array;
}

export interface LogBatch {
  readonly partition: number;
  /** Non-empty, ascending offsets. */
  readonly records: readonly LogRecord[];
  /** Aborts when this member loses the partition (or stops). */
  readonly signal: AbortSignal;
}

export interface ConsumeOptions {
  readonly groupId: string;
  /** Identifies the member in logs and tests. */
  readonly memberId: string;
  readonly handler: (batch: LogBatch) => Promise<void>;
  /** Called after a partition was assigned to this member / taken away. */
  readonly onAssigned?: (partitions: readonly number[]) => void;
  readonly onRevoked?: (partitions: readonly number[]) => void;
  /** Upper bound on records per batch (default 500). */
  readonly maxBatchRecords?: number;
}
