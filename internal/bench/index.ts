/**
 * The load generator: drives the real API through the SDK (gRPC, bidi
 * streams) from its own process against servers it starts (embedded or
 * distributed) or is pointed at, and reports HDR latencies, throughput,
 * errors and the servers' CPU and RSS. `cmd/bench` is its command line;
 * docs/benchmarks.md has the scenarios and the measured numbers.
 */
export { benchUsage, BenchUsageError, defaultOptions, parseBenchArgs, parseDurationMs, scenarios } from "./bench-options.ts";
export type { BenchMode, BenchOptions, Scenario } from "./bench-options.ts";
export { runBench } from "./run-bench.ts";
export type { BenchReport, ScenarioResult } from "./run-bench.ts";
export { formatReport } from "./format-report.ts";
export { createLatencyHistogram } from "./latency-histogram.ts";
export { summarizeCpuProfile } from "./cpu-profile-summary.ts";
export type { CpuProfileSummary, ProfileShare } from "./cpu-profile-summary.ts";
export type { LatencyHistogram, LatencySummary } from "./latency-histogram.ts";
export { runOpenLoop } from "./open-loop.ts";
export type { OpenLoopConfig, OpenLoopDeps, OpenLoopResult } from "./open-loop.ts";
export type { LoadResult, CpuPerMessage } from "./load-phase.ts";
export type { SteadyResult, SaturateResult } from "./throughput-scenarios.ts";
export type { IdleResult } from "./idle-scenario.ts";
export type { ReconnectStormResult } from "./reconnect-storm.ts";
export type { PresenceResult } from "./presence-scenario.ts";
export type { SlowConsumerResult, SlowConsumerSample } from "./slow-consumer.ts";
export type { ProcessUsage, WatchedProcess } from "./proc-stats.ts";
