import { expect, test } from "bun:test";
import { describeWithBackends } from "../testkit/index.ts";
import { defaultCheckConfig, removeDataDir, runCheck, type FaultKind } from "./index.ts";

// Each distributed kind once, in this order (the rest of the cycle are device faults); Kafka early, so
// the run has time to drain what waited for it.
const kinds: readonly FaultKind[] = [
  "kafka-restart",
  "worker-kill",
  "redis-flush",
  "gateway-kill",
  "redis-restart",
  "cassandra-pause",
  "proxy",
  "restart",
];
const distributedKinds = kinds.filter((k) => k !== "proxy" && k !== "restart");

describeWithBackends("history checker against a cluster", ["kafka", "cassandra", "redis"], () => {
  test(
    "through a worker kill, a gateway kill, a Kafka restart, a Redis flush, a Redis restart and a Cassandra pause every device ends with the same messages, once each, in order, and converged receipts",
    async () => {
      const report = await runCheck({
        ...defaultCheckConfig,
        mode: "distributed",
        users: 4,
        devicesPerUser: 2,
        messages: 200,
        durationMs: 20_000,
        faultEveryMs: 2_500,
        faults: kinds,
        faultOrder: "cycle",
        maxProcessDownMs: 2_000,
        seed: 11,
        quiesceTimeoutMs: 45_000,
      });
      // The line a failure would print, so a red run shows what went wrong.
      console.log(report.summary);
      for (const v of report.verdict.violations.slice(0, 5)) console.log(`${v.kind}: ${v.message}\n  ${v.evidence.join("\n  ")}`);

      expect(report.verdict.counts).toEqual({
        lost: 0,
        undelivered: 0,
        failed: 0,
        duplicated: 0,
        reordered: 0,
        gaps: 0,
        receipt_regressions: 0,
        bad_watermarks: 0,
        phantoms: 0,
        unconverged_devices: 0,
      });
      expect(report.quiescence.quiet).toBe(true);
      expect(report.unexpectedExits).toBe(0);
      // The run really exercised what it claims: traffic, and every distributed fault kind.
      expect(report.composed).toBeGreaterThan(100);
      expect(Object.fromEntries(distributedKinds.map((k) => [k, (report.faults[k] ?? 0) > 0]))).toEqual(
        Object.fromEntries(distributedKinds.map((k) => [k, true])),
      );
      removeDataDir(report);
    },
    120_000,
  );
});
