import pino, { type Logger } from "pino";
import type { LogPosition, MessageLog } from "../message-log.ts";
import { createConsumerGroups } from "./consumer-groups.ts";
import { createKafkaPartitioner } from "../kafka-partitioner.ts";
import { openSqliteLogStorage } from "./sqlite-log-storage.ts";

/** Where the embedded log lives and how it is partitioned. */
export interface EmbeddedLogConfig {
  /** SQLite file (created if missing) or ":memory:" (gone on close). */
  readonly path: string;
  /** Fixed at creation: reopening a file with another count throws. */
  readonly partitionCount: number;
  /** Least time between two group commits (default 0; see createPacedFlush). */
  readonly commitIntervalMs?: number;
  /** Checkpoints in a worker thread this often (default 0: SQLite's own; see checkpointInBackground). */
  readonly checkpointIntervalMs?: number;
}

/**
 * The in-process `messages` log for the single-process default: a SQLite
 * file with group-committed appends and in-process consumer groups.
 *
 * One process owns a file at a time (offsets and group membership live in
 * memory); cross-process groups need the Kafka adapter.
 *
 * @throws when the file was created with another partition count
 */
export function createEmbeddedLog(cfg: EmbeddedLogConfig, deps: { logger?: Logger }): MessageLog {
  const logger = (deps.logger ?? pino({ enabled: false })).child({ component: "embedded-log" });
  const storage = openSqliteLogStorage(cfg);
  const groups = createConsumerGroups({ storage, logger });
  const partitionOf = createKafkaPartitioner(storage.partitionCount);
  let closing: Promise<void> | undefined;

  return {
    partitionCount: storage.partitionCount,
    partitionOf,
    append(records): Promise<LogPosition[]> {
      return storage.append(records.map((record) => ({ ...record, partition: partitionOf(record.key) })));
    },
    consume(options, signal) {
      return groups.consume(options, signal);
    },
    close() {
      closing ??= (async () => {
        // Appends first (waiting writers get an answer), then consumers finish their
        // in-flight batches, and only then the database goes away under them.
        storage.stopAppends();
        await groups.close();
        await storage.close();
      })();
      return closing;
    },
  };
}
