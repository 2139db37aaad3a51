import type { Consumer, ConsumerRunConfig } from "kafkajs";
import type { Logger } from "pino";
import type { ConsumeOptions } from "../message-log.ts";
import { sleepUnlessAborted } from "../../domain/index.ts";
import { createBatchRunner, newGeneration } from "./kafka-batch-runner.ts";
import { createKafkaClient, retryOptions } from "./kafka-client.ts";
import type { ResolvedKafkaLogConfig } from "./kafka-log-config.ts";

export interface GroupMemberParams {
  readonly cfg: ResolvedKafkaLogConfig;
  readonly partitionCount: number;
  readonly options: ConsumeOptions;
  /** The caller's signal or the log's close, whichever comes first. */
  readonly signal: AbortSignal;
}

const MIN_START_DELAY_MS = 200;
const MAX_START_DELAY_MS = 5_000;

/**
 * MessageLog.consume over one kafkajs consumer: joins the group, runs until `signal` aborts,
 * then disconnects, which lets in-flight batches finish (they see the aborted signal and do
 * not commit) and leaves the group, so the others take over without waiting for a session
 * timeout.
 *
 * Rebalances are eager (kafkajs has no cooperative protocol): when one starts, every batch in
 * flight sees its signal abort and commits nothing, and kafkajs rejoins only once all of them
 * returned. So a revoked partition's last batch has finished before the coordinator can hand
 * it to another member, unless it runs past rebalanceTimeoutMs: then the coordinator drops
 * this member and the broker refuses its commits from then on.
 * onAssigned/onRevoked report the difference between consecutive assignments, except after an
 * expulsion (see `joined`).
 *
 * Connection failures are retried (kafkajs restarts a crashed consumer) until `signal` aborts.
 */
export async function runGroupMember(params: GroupMemberParams, deps: { logger: Logger }): Promise<void> {
  const { cfg, options, signal } = params;
  const logger = deps.logger.child({ groupId: options.groupId, memberId: options.memberId });
  const kafka = createKafkaClient(cfg, `${cfg.clientId}-${options.memberId}`, logger.child({ component: "kafkajs" }));
  const consumer = kafka.consumer({
    groupId: cfg.groupIdPrefix + options.groupId,
    sessionTimeout: cfg.sessionTimeoutMs,
    heartbeatInterval: cfg.heartbeatIntervalMs,
    rebalanceTimeout: cfg.rebalanceTimeoutMs,
    maxWaitTimeInMs: cfg.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
    retry: { ...retryOptions(cfg), restartOnFailure: async () => !signal.aborted },
  });
  const owned = new Set<number>();
  /** The member id of the latest join; the coordinator hands out a new one after an expulsion. */
  let joinedAs: string | undefined;
  let generation = newGeneration(signal);
  const runner = createBatchRunner(
    {
      options,
      stop: signal,
      currentGeneration: () => generation,
      heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      fetchIntervalMs: cfg.fetchIntervalMs,
      commitIntervalMs: cfg.commitIntervalMs,
      commit: (offsets) => consumer.commitOffsets(offsets.map((o) => ({ topic: cfg.topic, ...o }))),
    },
    { logger },
  );
  const runConfig: ConsumerRunConfig = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    // kafkajs hands out a fetch's batches to this many workers: one per partition, so that every
    // partition of a fetch is handled at the same time.
    partitionsConsumedConcurrently: params.partitionCount,
    eachBatch: (payload) => runner.eachBatch(payload),
  };

  function notify(callback: "onAssigned" | "onRevoked", partitions: readonly number[]): void {
    if (partitions.length === 0) return;
    try {
      options[callback]?.(partitions);
    } catch (err) {
      logger.error({ err, callback }, "log consumer callback failed");
    }
  }

  function revokeAll(): void {
    const partitions = [...owned];
    owned.clear();
    notify("onRevoked", partitions);
  }

  watchGroup(consumer, {
    joined(assignment, memberId) {
      // Batches of the previous generation no longer commit, even for partitions kept.
      generation.controller.abort();
      generation = newGeneration(signal);
      // A new member id means the coordinator expelled us (session timeout: a long pause, a
      // frozen process) and we rejoined as a new member. Our partitions were owned by others
      // in between and have moved on without us, so all of them count as revoked, even those
      // we get back: whoever caches per-partition state must drop it.
      const expelled = joinedAs !== undefined && memberId !== joinedAs;
      joinedAs = memberId;
      if (expelled) revokeAll();
      const next = new Set(assignment[cfg.topic] ?? []);
      const revoked = [...owned].filter((partition) => !next.has(partition));
      const assigned = [...next].filter((partition) => !owned.has(partition)).sort((a, b) => a - b);
      for (const partition of revoked) owned.delete(partition);
      for (const partition of assigned) owned.add(partition);
      logger.info({ partitions: [...next], revoked, assigned, expelled }, "kafka group joined");
      notify("onRevoked", revoked);
      notify("onAssigned", assigned);
    },
    rebalancing() {
      // Members of the ending generation may still commit: hand over what was handled.
      void runner.flushCommits();
      generation.controller.abort();
    },
    crashed(err, restarting) {
      generation.controller.abort();
      revokeAll();
      logger.warn({ err, restarting }, "kafka consumer crashed");
      // kafkajs restarts after retriable failures; after the others it would stay down.
      if (!restarting && !signal.aborted) void start();
    },
  });

  async function start(): Promise<void> {
    for (let delayMs = MIN_START_DELAY_MS; !signal.aborted; delayMs = Math.min(delayMs * 2, MAX_START_DELAY_MS)) {
      try {
        await consumer.subscribe({ topics: [cfg.topic], fromBeginning: true });
        if (signal.aborted) return;
        await consumer.run(runConfig);
        return;
      } catch (err) {
        logger.warn({ err, retryDelayMs: delayMs }, "kafka consumer start failed");
        await sleepUnlessAborted(delayMs, signal);
      }
    }
  }

  try {
    await start();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    // What was handled so far, while this generation may still commit it.
    await runner.flushCommits().catch((err: unknown) => logger.warn({ err }, "kafka offset commit failed"));
    generation.controller.abort();
    runner.close();
    // Waits for the batches in flight, then leaves the group.
    await consumer.disconnect().catch((err: unknown) => logger.warn({ err }, "kafka consumer disconnect failed"));
    revokeAll();
  }
}

interface GroupWatcher {
  joined(assignment: Record<string, number[]>, memberId: string): void;
  rebalancing(): void;
  crashed(err: Error, restarting: boolean): void;
}

/** kafkajs emits these synchronously, inside the step that caused them. */
function watchGroup(consumer: Consumer, watcher: GroupWatcher): void {
  const { GROUP_JOIN, REBALANCING, CRASH } = consumer.events;
  consumer.on(GROUP_JOIN, (event) => watcher.joined(event.payload.memberAssignment, event.payload.memberId));
  consumer.on(REBALANCING, () => watcher.rebalancing());
  consumer.on(CRASH, (event) => watcher.crashed(event.payload.error, event.payload.restart));
}
