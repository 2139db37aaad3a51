import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import { unavailable } from "./kafka-client.ts";
import type { ResolvedKafkaLogConfig } from "./kafka-log-config.ts";

/** The topic exists with a partition count other than the configured one. */
export class PartitionCountMismatchError extends Error {
  constructor(
    readonly topic: string,
    readonly actual: number,
    readonly configured: number,
  ) {
    super(
      `kafka topic "${topic}" was created with ${actual} partitions, not the configured ${configured}: ` +
        "the partition count is fixed at creation (changing it would move conversations between partitions)",
    );
    this.name = "PartitionCountMismatchError";
  }
}

/**
 * Creates the topic with the configured partition count unless it exists, and waits for its
 * partition leaders. Brokers with auto-creation (Kafka's default) would otherwise create it on
 * first use with num.partitions, silently breaking partitionOf; Redpanda does not auto-create.
 *
 * @throws PartitionCountMismatchError when the topic exists with another partition count
 * @throws BackendUnavailableError when the cluster cannot be reached
 */
export async function ensureTopic(kafka: Kafka, cfg: ResolvedKafkaLogConfig, deps: { logger: Logger }): Promise<void> {
  const admin = kafka.admin();
  try {
    let created: boolean;
    let partitions: number;
    try {
      await admin.connect();
      created = await admin.createTopics({
        waitForLeaders: true,
        timeout: cfg.requestTimeoutMs,
        topics: [{ topic: cfg.topic, numPartitions: cfg.partitionCount, replicationFactor: cfg.replicationFactor }],
      });
      const metadata = await admin.fetchTopicMetadata({ topics: [cfg.topic] });
      partitions = metadata.topics.find((topic) => topic.name === cfg.topic)?.partitions.length ?? 0;
    } catch (err) {
      throw unavailable(`creating topic "${cfg.topic}"`, err);
    }
    if (partitions !== cfg.partitionCount) throw new PartitionCountMismatchError(cfg.topic, partitions, cfg.partitionCount);
    deps.logger.info({ topic: cfg.topic, partitions, created }, created ? "kafka topic created" : "kafka topic exists");
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
