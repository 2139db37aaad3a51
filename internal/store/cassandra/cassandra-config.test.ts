import { describe, expect, test } from "bun:test";
import { parseCassandraUrl } from "./cassandra-config.ts";
import { splitStatements } from "./migrate-cassandra.ts";
import { firstWins, maxWins } from "./write-versions.ts";

describe("parseCassandraUrl", () => {
  test("reads hosts, keyspace, datacenter, replication factor and consistency", () => {
    expect(
      parseCassandraUrl("cassandra://10.0.0.1:9142,10.0.0.2/chat?dc=eu-west&rf=3&consistency=local_one"),
    ).toEqual({
      contactPoints: ["10.0.0.1:9142", "10.0.0.2:9042"],
      localDataCenter: "eu-west",
      keyspace: "chat",
      replicationFactor: 3,
      consistency: "LOCAL_ONE",
      migrate: false,
    });
  });

  test("defaults to datacenter1, rf 1 and LOCAL_QUORUM; takes migrate, timeoutMs and unreadCap", () => {
    expect(parseCassandraUrl("cassandra://127.0.0.1:19042/chat_dev?migrate=true&timeoutMs=3000&unreadCap=99")).toEqual({
      contactPoints: ["127.0.0.1:19042"],
      localDataCenter: "datacenter1",
      keyspace: "chat_dev",
      replicationFactor: 1,
      consistency: "LOCAL_QUORUM",
      migrate: true,
      requestTimeoutMs: 3000,
      unreadCountCap: 99,
    });
  });

  test.each([
    ["redis://127.0.0.1:6379/0", /expected cassandra:\/\//],
    ["cassandra://127.0.0.1:19042", /keyspace "" must match/],
    ["cassandra://127.0.0.1:19042/Chat-1", /keyspace "Chat-1"/],
    ["cassandra://127.0.0.1:99999/chat", /bad host "127.0.0.1:99999"/],
    ["cassandra://h/chat?rf=0", /rf must be an integer >= 1/],
    ["cassandra://h/chat?consistency=SERIAL", /consistency "SERIAL" is not one of/],
    ["cassandra://h/chat?migrate=yes", /migrate must be true or false/],
    ["cassandra://h/chat?replicas=3", /unknown parameter "replicas"/],
  ])("refuses %p", (url, message) => {
    expect(() => parseCassandraUrl(url)).toThrow(message);
  });

  test("lists every problem at once", () => {
    expect(() => parseCassandraUrl("cassandra://h/BAD?rf=x&consistency=TWO")).toThrow(
      /keyspace "BAD".*; consistency "TWO".*; rf must be/,
    );
  });
});

describe("schema files and write versions", () => {
  test("a CQL file splits into statements without its comments", () => {
    const text = [
      "-- header; with a semicolon",
      "CREATE TABLE a (k int PRIMARY KEY); -- trailing",
      "",
      "CREATE TABLE b (",
      "  k int PRIMARY KEY -- key",
      ");",
    ].join("\n");
    expect(splitStatements(text)).toEqual([
      "CREATE TABLE a (k int PRIMARY KEY)",
      "CREATE TABLE b (\n  k int PRIMARY KEY \n)",
    ]);
  });

  test("maxWins orders like the values and firstWins the other way, exactly up to 2^53", () => {
    const values = [0, 1, 2, 1_700_000_000_000, 2 ** 53 - 2, 2 ** 53 - 1];
    for (let i = 1; i < values.length; i++) {
      expect(maxWins(values[i]!)).toBeGreaterThan(maxWins(values[i - 1]!));
      expect(firstWins(values[i]!)).toBeLessThan(firstWins(values[i - 1]!));
    }
    expect(() => maxWins(-1)).toThrow(RangeError);
    expect(() => firstWins(2 ** 53)).toThrow(RangeError);
  });
});
