import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startEmbeddedServer, type RunningServer } from "../app/index.ts";
import { BenchUsageError, defaultOptions, parseBenchArgs, parseDurationMs, runBench, runOpenLoop, type BenchOptions } from "./index.ts";
import { formatReport } from "./format-report.ts";
import { createLatencyHistogram } from "./latency-histogram.ts";
import { processUptimeSec } from "./proc-stats.ts";
import { coldBackendWarnings, WARM_BACKEND_SEC } from "./run-bench.ts";
import { bucketQuantileMs, eventLoopLagOf, stageHistogramsOf, stageLatencies } from "./server-metrics.ts";

describe("bench options", () => {
  test.each([
    ["30s", 30_000],
    ["1500ms", 1_500],
    ["2m", 120_000],
    ["5", 5_000],
    ["0.5s", 500],
    ["soon", undefined],
  ])("parses the duration %p", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  test("reads --key value and --key=value over the defaults", () => {
    const o = parseBenchArgs(["--scenario", "saturate", "--rate=500", "--duration", "10s", "--mode", "distributed", "--quiet"]);
    expect(o).toMatchObject({ scenario: "saturate", ratePerSec: 500, durationMs: 10_000, mode: "distributed", quiet: true });
    expect(o.pairs).toBe(defaultOptions.pairs);
  });

  test("lists every problem at once, and refuses non-loopback targets", () => {
    let error: unknown;
    try {
      parseBenchArgs(["--scenario", "nope", "--rate", "-3", "--url", "http://10.0.0.1:8080", "--bogus", "1"]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BenchUsageError);
    const problems = (error as BenchUsageError).problems.join("\n");
    for (const word of ["--scenario=nope", "--rate=-3", "loopback", "--bogus"]) expect(problems).toContain(word);
  });
});

describe("open loop", () => {
  test("issues rate x duration operations stamped on a fixed schedule", async () => {
    const stamps: number[] = [];
    const now = (): number => performance.now() * 1000;
    const result = await runOpenLoop(
      { ratePerSec: 500, durationMs: 100, startUs: now() },
      { nowUs: now, fire: (_i, scheduledUs) => stamps.push(scheduledUs), signal: new AbortController().signal },
    );
    expect(result.issued).toBe(50);
    expect(stamps).toHaveLength(50);
    // The schedule, not the issue time: consecutive stamps are exactly 1/rate apart.
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 1]!).toBeCloseTo(2_000, 3);
  });

  test("stops when its signal aborts", async () => {
    const stop = new AbortController();
    stop.abort();
    const result = await runOpenLoop(
      { ratePerSec: 1000, durationMs: 10_000, startUs: 0 },
      { nowUs: () => 0, fire: () => undefined, signal: stop.signal },
    );
    expect(result.issued).toBe(0);
  });
});

test("latency histogram reports percentiles in milliseconds", () => {
  const h = createLatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.recordUs(i * 1000);
  const s = h.summary();
  expect(s.count).toBe(1000);
  expect(s.p50Ms).toBeCloseTo(500, -1);
  expect(s.maxMs).toBeCloseTo(1000, -1);
  expect(createLatencyHistogram().summary().count).toBe(0);
});

// Small numbers only: these check that every scenario still runs end to end
// and reports what it should; speed is never asserted.
const small: BenchOptions = { ...defaultOptions, quiet: true, warmupMs: 300, durationMs: 700, pairs: 2, connections: 4, connectConcurrency: 4 };

test("steady runs against a spawned embedded server and follows every message", async () => {
  const report = await runBench({ ...small, scenario: "steady", mode: "embedded", ratePerSec: 40 }, "test", () => undefined);
  if (report.result.kind !== "steady") throw new Error(report.result.kind);
  const load = report.result.load;
  expect(load.sent).toBeGreaterThan(0);
  expect(load.lost).toBe(0);
  expect(load.e2e.count).toBeGreaterThan(0);
  expect(load.sentAck.count).toBe(load.e2e.count);
  expect(load.deliveredReceipt.count).toBe(load.e2e.count);
  expect(load.processes.map((p) => p.role).sort()).toEqual(["loadgen", "server"]);
  // The server's own histograms over the window: every message it pushed was measured there.
  expect(load.serverStages.find((s) => s.stage === "accept -> push to gateway")?.count).toBeGreaterThan(0);
  expect(report.warnings).toEqual([]);
}, 60_000);

test("slow-consumer cuts every device that stops reading and reports the gateway's memory", async () => {
  // A queue of 16 events (the server's minimum) fills within a second at this rate.
  const options: BenchOptions = {
    ...small,
    scenario: "slow-consumer",
    mode: "embedded",
    connections: 3,
    queueLimit: 16,
    ratePerSec: 150,
    bodyBytes: 4_096,
    warmupMs: 500,
    durationMs: 2_000,
  };
  const report = await runBench(options, "test", () => undefined);
  if (report.result.kind !== "slow-consumer") throw new Error(report.result.kind);
  const r = report.result;
  expect(r).toMatchObject({ stuckDevices: 3, queueLimit: 16, devicesToldSlowConsumer: 3 });
  // A sender that falls 16 events behind on this shared machine is cut too: at least the three.
  expect(r.cuts).toBeGreaterThanOrEqual(3);
  expect(r.streamEnds).toEqual({ "trailers/SLOW_CONSUMER": 3 });
  expect(r.series.length).toBeGreaterThan(0);
  expect(r.rssPeakMiB).toBeGreaterThan(0);
}, 60_000);

describe("scenarios against a running server (external mode)", () => {
  let server: RunningServer;
  let options: BenchOptions;
  beforeAll(async () => {
    server = await startEmbeddedServer({ gateway: { sendRatePerSec: 10_000, sendBurst: 10_000 } });
    options = { ...small, mode: "external", urls: [server.url], pids: [process.pid] };
  });
  afterAll(() => server.destroy());

  test("saturate stops at the rate cap and reports its steps", async () => {
    const report = await runBench({ ...options, scenario: "saturate", ratePerSec: 20, stepFactor: 2, maxRatePerSec: 40 }, "test", () => undefined);
    if (report.result.kind !== "saturate") throw new Error(report.result.kind);
    expect(report.result.steps.map((s) => s.offeredRatePerSec)).toEqual(report.result.steps.length === 2 ? [20, 40] : [20]);
  }, 60_000);

  test("idle connects every device (from extra loopback addresses) and reads the gateway's memory", async () => {
    const idle: BenchOptions = { ...options, scenario: "idle", sourceAddresses: ["127.0.0.2", "127.0.0.3"] };
    const report = await runBench(idle, "test", () => undefined);
    if (report.result.kind !== "idle") throw new Error(report.result.kind);
    expect(report.result.connect).toMatchObject({ connected: 4, failed: 0 });
    expect(report.result.gatewayRssAfterMiB).toBeGreaterThan(0);
  }, 60_000);

  test("reconnect-storm brings every dropped device up to date", async () => {
    const report = await runBench({ ...options, scenario: "reconnect-storm", stormMessages: 12 }, "test", () => undefined);
    if (report.result.kind !== "reconnect-storm") throw new Error(report.result.kind);
    expect(report.result).toMatchObject({ devices: 4, messages: 12, stored: 12, caughtUp: 4 });
    expect(report.result.loadgenMaxStallMs).toBeGreaterThanOrEqual(0);
    expect(formatReport(report)).toContain("load generator: event-loop stall max");
  }, 60_000);

  test("presence counts the updates flapping devices receive", async () => {
    const report = await runBench({ ...options, scenario: "presence", watchPeers: 2 }, "test", () => undefined);
    if (report.result.kind !== "presence") throw new Error(report.result.kind);
    expect(report.result.users).toBe(4);
    expect(report.result.windowSec).toBeGreaterThan(0);
  }, 60_000);
});

describe("server stages from /metrics", () => {
  const scrape = (appendCounts: readonly number[], deliveryCounts: readonly number[]) => ({
    url: "http://127.0.0.1:1",
    text: [
      "# HELP chat_store_write_seconds worker store writes by operation",
      ...["0.001", "0.002", "0.005", "+Inf"].map((le, i) => `chat_store_write_seconds_bucket{le="${le}",op="append_message"} ${appendCounts[i]}`),
      ...["0.001", "0.002", "0.005", "+Inf"].map((le, i) => `chat_delivery_latency_seconds_bucket{le="${le}"} ${deliveryCounts[i]}`),
      'chat_other_seconds_bucket{le="0.001"} 99',
      "chat_nodejs_eventloop_lag_p99_seconds 0.0123",
      "chat_nodejs_eventloop_lag_max_seconds 0.05",
    ].join("\n"),
  });

  test("quantiles are interpolated inside their bucket, as histogram_quantile does", () => {
    const buckets: [number, number][] = [[0.001, 50], [0.002, 90], [0.005, 100], [Infinity, 100]];
    expect(bucketQuantileMs(buckets, 0.5)).toBe(1);
    expect(bucketQuantileMs(buckets, 0.7)).toBe(1.5);
    expect(bucketQuantileMs(buckets, 0.99)).toBe(4.7);
    expect(bucketQuantileMs([[0.001, 1], [Infinity, 10]], 0.99)).toBe("> 1");
    expect(bucketQuantileMs([[Infinity, 0]], 0.5)).toBe(0);
  });

  test("stages count only the window, summed over servers", () => {
    const before = stageHistogramsOf([scrape([10, 10, 10, 10], [0, 0, 0, 0])]);
    // Two servers at the end: 100 more appends in all, 40 deliveries.
    const after = stageHistogramsOf([scrape([40, 50, 60, 60], [10, 20, 40, 40]), scrape([20, 40, 50, 50], [0, 0, 0, 0])]);
    const stages = stageLatencies(before, after);
    expect(stages.map((s) => s.stage)).toEqual(["accept -> push to gateway", "store write: message"]);
    expect(stages[0]).toMatchObject({ count: 40, p50Ms: 2 });
    expect(stages[1]).toMatchObject({ count: 100, p50Ms: 1 });
    expect(eventLoopLagOf([scrape([0, 0, 0, 0], [0, 0, 0, 0]), { url: "http://127.0.0.1:2", text: "" }])).toEqual([
      { url: "http://127.0.0.1:1", p99Ms: 12.3, maxMs: 50 },
    ]);
  });
});

describe("cold backends", () => {
  test("a process's uptime comes from /proc", () => {
    const up = processUptimeSec(process.pid);
    expect(up).toBeGreaterThanOrEqual(0);
    expect(up!).toBeLessThan(performance.now() / 1000 + 5);
    expect(processUptimeSec(2 ** 30)).toBeUndefined();
  });

  test("runs against Kafka or Cassandra started less than WARM_BACKEND_SEC ago carry a warning", () => {
    const backends = [
      { name: "cassandra", role: "backend", pid: 1, shared: true },
      { name: "kafka", role: "backend", pid: 2, shared: true },
      { name: "redis", role: "backend", pid: 3, shared: true },
    ] as const;
    const ages = new Map([[1, 60], [2, WARM_BACKEND_SEC + 1], [3, 5]]);
    const warnings = coldBackendWarnings(backends, (pid) => ages.get(pid));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toStartWith("cassandra (pid 1) started 60 s ago");
    expect(coldBackendWarnings(backends, () => undefined)).toEqual([]);
  });
});
