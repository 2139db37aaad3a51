import { describe, expect, test } from "bun:test";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { createKafkaPartitioner, murmur2 } from "./kafka-partitioner.ts";

describe("murmur2", () => {
  // Kafka's UtilsTest.testMurmur2 vectors: same hash, same partition as a Kafka producer.
  test.each([
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ])("hashes %p like Kafka", (input, expected) => {
    expect(murmur2(new TextEncoder().encode(input))).toBe(expected);
  });

  test("partitions like Kafka's default partitioner", () => {
    expect(createKafkaPartitioner(1 << 30)("21")).toBe((-973932308 & 0x7fffffff) % (1 << 30));
  });
});

describe("createKafkaPartitioner", () => {
  // kafkajs' DefaultPartitioner is the Java client's keyed partitioner: agreeing with it means any
  // Kafka producer that keys by conversation id lands in the partition partitionOf names.
  test.each([1, 2, 4, 12, 64])("agrees with kafkajs' DefaultPartitioner for %p partitions", (count) => {
    const partitionMetadata: PartitionMetadata[] = Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    }));
    const kafkajs = Partitioners.DefaultPartitioner();
    const ours = createKafkaPartitioner(count);
    const keys = Array.from({ length: 2_000 }, (_, i) => `conversation-${i}-${"é".repeat(i % 7)}`);
    for (const key of keys) {
      expect(ours(key)).toBe(kafkajs({ topic: "t", partitionMetadata, message: { key, value: null } }));
    }
  });
});
