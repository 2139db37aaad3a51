import { describe, expect, test } from "bun:test";
import { describeWithBackends } from "../testkit/index.ts";
import { formatCostLines, probeAppendCost, probeCqlRequestCost, probeWakeupCost } from "./cost-probes.ts";

// Smoke runs with small counts so the probes do not rot; their figures are never asserted.
describe("cost probes", () => {
  test("the wake-up probe measures a back-to-back line and one per idle gap", async () => {
    const lines = await probeWakeupCost({ roundTrips: 50, idleRoundTrips: 5, gapsMs: [1, 2] });
    expect(lines.map((l) => [l.label, l.iterations])).toEqual([
      ["back to back", 50],
      ["idle 1 ms between", 5],
      ["idle 2 ms between", 5],
    ]);
    expect(lines.every((l) => l.wallUs > 0 && l.cpuUs >= 0)).toBe(true);
    expect(formatCostLines("t", lines).split("\n")).toHaveLength(4);
  }, 20_000);
});

describeWithBackends("cost probes", ["cassandra"], ({ cassandra }) => {
  test("the CQL probe measures one line per concurrency", async () => {
    const lines = await probeCqlRequestCost({ contactPoint: cassandra.contactPoints[0]!, localDataCenter: cassandra.localDataCenter, requests: 20, concurrencies: [1, 4] });
    expect(lines.map((l) => [l.label, l.iterations])).toEqual([
      ["concurrency 1", 20],
      ["concurrency 4", 20],
    ]);
  }, 30_000);

  test("the append probe measures appends one at a time and in groups", async () => {
    const lines = await probeAppendCost({ contactPoint: cassandra.contactPoints[0]!, localDataCenter: cassandra.localDataCenter, messages: 20, group: 4 });
    expect(lines.map((l) => [l.label, l.iterations])).toEqual([
      ["one at a time", 20],
      ["4 at once", 20],
    ]);
  }, 60_000);
});
