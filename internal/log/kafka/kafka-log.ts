import type { Producer } from "kafkajs";
import type { Logger } from "pino";
import { BackendUnavailableError } from "../../domain/index.ts";
import { createKafkaPartitioner } from "../kafka-partitioner.ts";
import type { MessageLog } from "../message-log.ts";
import { ensureTopic } from "./ensure-topic.ts";
import { createKafkaAppender } from "./kafka-appender.ts";
import { createKafkaClient, retryOptions, unavailable } from "./kafka-client.ts";
import { runGroupMember } from "./kafka-group-member.ts";
import { type KafkaLogConfig, resolveKafkaLogConfig } from "./kafka-log-config.ts";

/**
 * The `messages` log on a Kafka-API cluster (Redpanda in production, Apache Kafka in tests).
 *
 * Startup creates the topic with the configured partition count (or checks the existing
 * one) and connects an idempotent producer, so the factory is async: partitionCount is
 * known before the log is used. Appends are acks=all and group-committed; each consume()
 * is its own group member (see runGroupMember). partitionOf is Kafka's default keyed
 * partitioner, the same as the embedded log's, and the producer writes to the partition it
 * computes, so a key's partition is the same on both adapters.
 *
 * @throws PartitionCountMismatchError when the topic exists with another partition count
 * @throws BackendUnavailableError when the cluster cannot be reached
 */
export async function createKafkaLog(cfg: KafkaLogConfig, deps: { logger: Logger }): Promise<MessageLog> {
  const resolved = resolveKafkaLogConfig(cfg);
  const logger = deps.logger.child({ component: "kafka-log", topic: resolved.topic });
  const kafka = createKafkaClient(resolved, resolved.clientId, logger.child({ component: "kafkajs" }));
  await ensureTopic(kafka, resolved, { logger });

  const partitionOf = createKafkaPartitioner(resolved.partitionCount);
  const openProducer = async (): Promise<Producer> => {
    const producer = kafka.producer({
      idempotent: true,
      // kafkajs keeps one request in flight per broker for an idempotent producer (a lock per
      // broker); the connection limit says the same, which is what keeps retries in order.
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: retryOptions(resolved),
      // Every message carries its partition; this partitioner only refuses one that does not.
      createPartitioner: () => ({ message }) => {
        if (typeof message.partition !== "number") throw new Error("kafka log message without a partition");
        return message.partition;
      },
    });
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw unavailable("producer connect", err);
    }
    return producer;
  };
  const appender = createKafkaAppender(
    { topic: resolved.topic, partitionOf, ackTimeoutMs: resolved.requestTimeoutMs, produceIntervalMs: resolved.produceIntervalMs, openProducer },
    { logger },
  );
  // Connect now: a wrong address fails startup, and InitProducerId is off the first append's path.
  await appender.connect();

  const closing = new AbortController();
  const members = new Set<Promise<void>>();
  let closed: Promise<void> | undefined;

  return {
    partitionCount: resolved.partitionCount,
    partitionOf,
    append: (records) => appender.append(records),
    async consume(options, signal) {
      if (closing.signal.aborted) throw new BackendUnavailableError("log", "kafka log closed");
      const member = runGroupMember(
        { cfg: resolved, partitionCount: resolved.partitionCount, options, signal: AbortSignal.any([signal, closing.signal]) },
        { logger },
      );
      members.add(member);
      try {
        await member;
      } finally {
        members.delete(member);
      }
    },
    close() {
      closed ??= (async () => {
        // Queued appends are refused and members told to stop at once; members finish their
        // in-flight batches and leave the group while the last send settles.
        closing.abort();
        await appender.close();
        await Promise.all([...members]);
      })();
      return closed;
    },
  };
}
