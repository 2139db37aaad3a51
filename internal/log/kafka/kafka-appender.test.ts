import { describe, expect, test } from "bun:test";
import type { Producer } from "kafkajs";
import pino from "pino";
import { createKafkaAppender } from "./kafka-appender.ts";

/*
 * The appender's group commit, on a producer that records its requests and
 * answers each at once. What Kafka does with the records is the business of
 * the real-broker suites (kafka-log.test.ts); here only the grouping counts.
 */

interface Request {
  readonly keys: string[];
  readonly atMs: number;
}

function recordingAppender(produceIntervalMs: number) {
  const requests: Request[] = [];
  const next = new Map<number, number>();
  const started = performance.now();
  const producer = {
    async send({ messages }: { messages: { key: string; partition: number }[] }) {
      requests.push({ keys: messages.map((m) => m.key), atMs: performance.now() - started });
      const answer = [...new Set(messages.map((m) => m.partition))].map((partition) => {
        const baseOffset = next.get(partition) ?? 0;
        next.set(partition, baseOffset + messages.filter((m) => m.partition === partition).length);
        return { topicName: "t", partition, errorCode: 0, baseOffset: String(baseOffset) };
      });
      return answer;
    },
    async disconnect() {},
  } as unknown as Producer;
  const appender = createKafkaAppender(
    { topic: "t", partitionOf: () => 0, ackTimeoutMs: 1_000, produceIntervalMs, openProducer: async () => producer },
    { logger: pino({ level: "silent" }) },
  );
  const append = (key: string) => appender.append([{ key, value: new Uint8Array([1]) }]);
  return { appender, requests, append };
}

describe("kafka appender: produce interval", () => {
  test("appends within the interval after a request share the next one; after a quiet spell an append goes at once", async () => {
    const { appender, requests, append } = recordingAppender(60);
    await append("a"); // nothing sent before: at once
    const [b, c] = [append("b"), Bun.sleep(5).then(() => append("c"))];
    expect((await b)[0]!.offset).toBe(1);
    expect((await c)[0]!.offset).toBe(2);
    expect(requests.map((r) => r.keys)).toEqual([["a"], ["b", "c"]]);
    expect(requests[1]!.atMs - requests[0]!.atMs).toBeGreaterThanOrEqual(55);

    await Bun.sleep(150);
    const before = performance.now();
    await append("d");
    expect(performance.now() - before).toBeLessThan(40);
    expect(requests.map((r) => r.keys)).toEqual([["a"], ["b", "c"], ["d"]]);
    await appender.close();
  });

  test("0 sends each append as soon as the previous request is answered", async () => {
    const { appender, requests, append } = recordingAppender(0);
    await append("a");
    await Promise.all([append("b"), Bun.sleep(5).then(() => append("c"))]);
    expect(requests.map((r) => r.keys)).toEqual([["a"], ["b"], ["c"]]);
    await appender.close();
  });

  test("close while an append waits for the interval rejects it and returns", async () => {
    const { appender, append } = recordingAppender(5_000);
    await append("a");
    const waiting = append("b");
    await Bun.sleep(5);
    const before = performance.now();
    const closing = appender.close();
    await expect(waiting).rejects.toThrow(/log closed/);
    await closing;
    expect(performance.now() - before).toBeLessThan(1_000);
  });
});
