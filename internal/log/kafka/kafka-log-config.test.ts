import { describe, expect, test } from "bun:test";
import { KAFKA_LOG_DEFAULTS, parseKafkaUrl, resolveKafkaLogConfig } from "./kafka-log-config.ts";

describe("parseKafkaUrl", () => {
  test("reads brokers, topic, partitions and client id", () => {
    const cfg = parseKafkaUrl("kafka://10.0.0.1:9092,10.0.0.2:9093?topic=chat-messages&partitions=24&clientId=worker");
    expect(cfg.brokers).toEqual(["10.0.0.1:9092", "10.0.0.2:9093"]);
    expect(cfg.topic).toBe("chat-messages");
    expect(cfg.partitionCount).toBe(24);
    expect(cfg.clientId).toBe("worker");
  });

  test("fills the defaults for everything not given", () => {
    expect(parseKafkaUrl("kafka://127.0.0.1:19092")).toEqual({ ...KAFKA_LOG_DEFAULTS, brokers: ["127.0.0.1:19092"] });
    expect(parseKafkaUrl("kafka://127.0.0.1:19092/").topic).toBe("messages");
  });

  test("takes tuning parameters by their config names", () => {
    const cfg = parseKafkaUrl(
      "kafka://127.0.0.1:19092?sessionTimeoutMs=6000&heartbeatIntervalMs=500&rebalanceTimeoutMs=10000" +
        "&fetchMaxWaitMs=250&fetchIntervalMs=0&produceIntervalMs=0&commitIntervalMs=1000&requestTimeoutMs=3000&retries=2" +
        "&replicationFactor=3&groupIdPrefix=staging.",
    );
    expect(cfg).toMatchObject({
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: 10_000,
      fetchMaxWaitMs: 250,
      fetchIntervalMs: 0,
      produceIntervalMs: 0,
      commitIntervalMs: 1_000,
      requestTimeoutMs: 3_000,
      retries: 2,
      replicationFactor: 3,
      groupIdPrefix: "staging.",
    });
  });

  test.each([
    ["another scheme", "redis://127.0.0.1:6379", /expected kafka:\/\//],
    ["no broker", "kafka://?topic=messages", /no broker given/],
    ["a broker without port", "kafka://127.0.0.1", /not host:port/],
    ["a non-numeric partition count", "kafka://h:1?partitions=many", /partitions=many is not an integer/],
    ["a zero partition count", "kafka://h:1?partitions=0", /partitionCount must be a positive integer/],
    ["a negative commit interval", "kafka://h:1?commitIntervalMs=-1", /commitIntervalMs must be an integer >= 0/],
    ["an unknown parameter", "kafka://h:1?partition=12", /unknown parameter "partition"/],
    ["a bad topic name", "kafka://h:1?topic=a%20b", /not a valid Kafka topic name/],
    ["a heartbeat not below the session timeout", "kafka://h:1?heartbeatIntervalMs=9000&sessionTimeoutMs=6000", /below/],
  ])("refuses %s", (_, url, message) => {
    expect(() => parseKafkaUrl(url)).toThrow(message);
  });

  test("lists every problem at once", () => {
    expect(() => parseKafkaUrl("kafka://h?partitions=0&retries=-1")).toThrow(
      /not host:port.*partitionCount must be a positive integer.*retries must be an integer >= 0/,
    );
  });
});

describe("resolveKafkaLogConfig", () => {
  test("keeps given fields and fills the rest, ignoring explicit undefined", () => {
    const cfg = resolveKafkaLogConfig({
      brokers: ["127.0.0.1:19092"],
      topic: "t",
      partitionCount: 3,
      clientId: "c",
      sessionTimeoutMs: undefined,
    });
    expect(cfg.partitionCount).toBe(3);
    expect(cfg.sessionTimeoutMs).toBe(KAFKA_LOG_DEFAULTS.sessionTimeoutMs);
  });
});
