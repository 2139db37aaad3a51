import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { type Admin, Kafka, logLevel } from "kafkajs";
import pino from "pino";
import { BackendUnavailableError } from "../../domain/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { createEmbeddedLog } from "../embedded/index.ts";
import { describeMessageLog } from "../message-log.conformance.ts";
import type { MessageLog } from "../message-log.ts";
import { createKafkaLog, type KafkaLogConfig, PartitionCountMismatchError } from "./index.ts";

const PARTITIONS = 4;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** Test timings: the broker's group.min.session.timeout.ms is 6 s; heartbeats and polls are short so rebalances are quick. */
function testConfig(brokers: readonly string[], topic: string, partitionCount = PARTITIONS): KafkaLogConfig {
  return {
    brokers,
    topic,
    partitionCount,
    clientId: "kafka-log-test",
    groupIdPrefix: `${topic}.`,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    rebalanceTimeoutMs: 10_000,
    fetchMaxWaitMs: 250,
  };
}

function uniqueTopic(): string {
  return `messages-test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describeWithBackends("kafka log", ["kafka"], ({ kafka }) => {
  let admin: Admin;

  beforeAll(async () => {
    admin = new Kafka({ brokers: kafka.brokers, clientId: "kafka-log-test-admin", logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  /** Deletes the topic and the consumer groups the tests made for it (best effort: groups must be empty). */
  async function dropTopic(topic: string): Promise<void> {
    const { groups } = await admin.listGroups();
    const ours = groups.map((group) => group.groupId).filter((groupId) => groupId.startsWith(`${topic}.`));
    if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  }

  describeMessageLog("kafka", async () => {
    const topic = uniqueTopic();
    const cfg = testConfig(kafka.brokers, topic);
    const opened: MessageLog[] = [await createKafkaLog(cfg, { logger })];
    return {
      log: opened[0]!,
      reopen: async () => {
        const log = await createKafkaLog(cfg, { logger });
        opened.push(log);
        return log;
      },
      cleanup: async () => {
        for (const log of opened) await log.close();
        await dropTopic(topic);
      },
    };
  });

  describe("createKafkaLog", () => {
    test("refuses a topic that exists with another partition count", async () => {
      const topic = uniqueTopic();
      try {
        await (await createKafkaLog(testConfig(kafka.brokers, topic, 4), { logger })).close();
        const other = createKafkaLog(testConfig(kafka.brokers, topic, 8), { logger });
        await expect(other).rejects.toBeInstanceOf(PartitionCountMismatchError);
        await expect(other).rejects.toThrow(/created with 4 partitions/);
        const same = await createKafkaLog(testConfig(kafka.brokers, topic, 4), { logger });
        expect(same.partitionCount).toBe(4);
        await same.close();
      } finally {
        await dropTopic(topic);
      }
    }, 30_000);

    test.each([4, 12])("maps keys to the partitions the embedded log uses (%p partitions)", async (partitionCount) => {
      const topic = uniqueTopic();
      const log = await createKafkaLog(testConfig(kafka.brokers, topic, partitionCount), { logger });
      const embedded = createEmbeddedLog({ path: ":memory:", partitionCount }, {});
      try {
        const keys = Array.from({ length: 5_000 }, (_, i) => `conversation-${i}-${(i * 7919).toString(36)}`);
        expect(keys.map((key) => log.partitionOf(key))).toEqual(keys.map((key) => embedded.partitionOf(key)));
        // ... and the broker stores them there: positions come from the produce response.
        const sample = keys.slice(0, 200);
        const positions = await log.append(sample.map((key) => ({ key, value: new Uint8Array([1]) })));
        expect(positions.map((position) => position.partition)).toEqual(sample.map((key) => embedded.partitionOf(key)));
      } finally {
        await log.close();
        await embedded.close();
        await dropTopic(topic);
      }
    }, 30_000);

    test("keeps its partitions through a batch that outlasts the session timeout (heartbeats while handling)", async () => {
      const topic = uniqueTopic();
      const cfg = testConfig(kafka.brokers, topic, 2);
      const log = await createKafkaLog(cfg, { logger });
      const controller = new AbortController();
      const handled: string[] = [];
      let revocations = 0;
      try {
        const positions = await log.append([{ key: "k", value: new Uint8Array([1]) }]);
        const done = log.consume(
          {
            groupId: "g",
            memberId: "slow",
            handler: async (batch) => {
              if (handled.length === 0) await sleep(cfg.sessionTimeoutMs! + 1_500);
              handled.push(...batch.records.map((record) => `${record.partition}:${record.offset}`));
            },
            onRevoked: () => revocations++,
          },
          controller.signal,
        );
        await waitUntil(() => handled.length > 0, 20_000);
        await log.append([{ key: "k", value: new Uint8Array([2]) }]);
        await waitUntil(() => handled.length >= 2, 10_000);
        controller.abort();
        await done;
        expect(handled[0]).toBe(`${positions[0]!.partition}:${positions[0]!.offset}`);
        expect(new Set(handled).size).toBe(handled.length);
        expect(revocations).toBe(1); // only the final leave
      } finally {
        controller.abort();
        await log.close();
        await dropTopic(topic);
      }
    }, 60_000);

    test("commits handled offsets once per commit interval, not per batch, and what is left on leaving", async () => {
      const topic = uniqueTopic();
      const cfg = { ...testConfig(kafka.brokers, topic, 2), commitIntervalMs: 60_000 };
      const log = await createKafkaLog(cfg, { logger });
      const controller = new AbortController();
      let handled = 0;
      const committed = async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: `${topic}.g`, topics: [topic] });
        return offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      };
      try {
        const done = log.consume(
          { groupId: "g", memberId: "m", handler: async (batch) => void (handled += batch.records.length) },
          controller.signal,
        );
        // Two rounds: the first commit goes out at once (no commit before it), the second waits a minute.
        await log.append([{ key: "a", value: new Uint8Array([1]) }]);
        await waitUntil(() => handled === 1, 20_000);
        await waitUntil(async () => (await committed()) === 1, 10_000);
        await log.append(Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array([i]) })));
        await waitUntil(() => handled === 7, 10_000);
        await sleep(1_000);
        expect(await committed()).toBe(1);
        controller.abort();
        await done;
        expect(await committed()).toBe(7);
      } finally {
        controller.abort();
        await log.close();
        await dropTopic(topic);
      }
    }, 60_000);

    test("rejects with BackendUnavailableError when no broker answers", async () => {
      const cfg = { ...testConfig([`127.0.0.1:${await closedPort()}`], uniqueTopic()), retries: 1 };
      await expect(createKafkaLog(cfg, { logger })).rejects.toBeInstanceOf(BackendUnavailableError);
    }, 30_000);

    test("rejects appends with BackendUnavailableError once the topic is gone, and recovers when it is back", async () => {
      const topic = uniqueTopic();
      const cfg = { ...testConfig(kafka.brokers, topic, 2), retries: 1, requestTimeoutMs: 2_000 };
      const log = await createKafkaLog(cfg, { logger });
      try {
        await log.append([{ key: "k", value: new Uint8Array([1]) }]);
        await admin.deleteTopics({ topics: [topic] });
        await expect(log.append([{ key: "k", value: new Uint8Array([2]) }])).rejects.toBeInstanceOf(BackendUnavailableError);
        await (await createKafkaLog(cfg, { logger })).close();
        const [position] = await appendWithRetries(log, 10);
        expect(position?.partition).toBe(log.partitionOf("k"));
      } finally {
        await log.close();
        await dropTopic(topic);
      }
    }, 60_000);
  });
});

/** Appends one record, retrying BackendUnavailableError like a gateway would (bounded). */
async function appendWithRetries(log: MessageLog, attempts: number) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await log.append([{ key: "k", value: new Uint8Array([3]) }]);
    } catch (err) {
      if (!(err instanceof BackendUnavailableError) || attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls every 20 ms; throws after `timeoutMs`. */
async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
