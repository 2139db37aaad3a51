import { expect, test } from "bun:test";
import { defaultCheckConfig, faultKinds, removeDataDir, runCheck } from "./index.ts";

test(
  "under device, network and server faults every device of both participants ends with the same messages, once each, in order, and converged receipts",
  async () => {
    const report = await runCheck({
      ...defaultCheckConfig,
      users: 4,
      devicesPerUser: 2,
      messages: 300,
      durationMs: 15_000,
      faultEveryMs: 300,
      faults: faultKinds,
      seed: 7,
      quiesceTimeoutMs: 30_000,
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
    // The run really exercised what it claims: traffic, and every fault family.
    expect(report.composed).toBeGreaterThan(100);
    expect(report.history.observations.filter((o) => o.kind === "message").length).toBeGreaterThanOrEqual(report.composed * 4);
    const networkFaults = (report.faults.down ?? 0) + (report.faults.blackhole ?? 0) + (report.faults.delay ?? 0);
    expect({ network: networkFaults > 0, restart: (report.faults.restart ?? 0) > 0, server: (report.faults["server-restart"] ?? 0) > 0 }).toEqual({
      network: true,
      restart: true,
      server: true,
    });
    removeDataDir(report);
  },
  60_000,
);
