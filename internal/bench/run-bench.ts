import { cpus, loadavg, totalmem } from "node:os";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { BenchOptions } from "./bench-options.ts";
import { summarizeCpuProfile, type CpuProfileSummary } from "./cpu-profile-summary.ts";
import { startBenchTarget } from "./bench-target.ts";
import { runIdle, type IdleResult } from "./idle-scenario.ts";
import { runPresence, type PresenceResult } from "./presence-scenario.ts";
import { processUptimeSec, type WatchedProcess } from "./proc-stats.ts";
import { runReconnectStorm, type ReconnectStormResult } from "./reconnect-storm.ts";
import { runSlowConsumer, type SlowConsumerResult } from "./slow-consumer.ts";
import { runSaturate, runSteady, type SaturateResult, type SteadyResult } from "./throughput-scenarios.ts";

/** What any scenario produced. */
export type ScenarioResult = SteadyResult | SaturateResult | IdleResult | ReconnectStormResult | PresenceResult | SlowConsumerResult;

/** The JSON report of one run (`--out`). */
export interface BenchReport {
  readonly scenario: BenchOptions["scenario"];
  readonly mode: BenchOptions["mode"];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly machine: { readonly cores: number; readonly memoryGiB: number; readonly loadAverage1m: number };
  readonly servers: readonly WatchedProcess[];
  readonly options: BenchOptions;
  readonly result: ScenarioResult;
  /** What makes this run's figures less comparable (e.g. a JVM backend started minutes before). */
  readonly warnings: readonly string[];
  /** Embedded mode with --server-cpu-prof: the profile files written by the server. */
  readonly cpuProfiles?: readonly string[];
  /** Their hottest modules and functions. */
  readonly cpuProfileSummaries?: readonly CpuProfileSummary[];
}

/** Server settings a scenario needs beyond the common ones. */
function scenarioEnv(options: BenchOptions): Record<string, string> {
  const queue: Record<string, string> = options.queueLimit === undefined ? {} : { OUTBOUND_QUEUE_LIMIT: String(options.queueLimit) };
  switch (options.scenario) {
    case "presence":
      // Short grace and fan-out periods: flaps longer than the grace become visible transitions.
      return { ...queue, PRESENCE_GRACE_MS: "500", PRESENCE_FANOUT_MS: "50" };
    default:
      return queue;
  }
}

/**
 * Runs one scenario: starts the servers the mode names, drives them from
 * this process through the SDK, stops them, and returns the report.
 * `progress` gets one line per stage.
 */
export async function runBench(options: BenchOptions, command: string, progress: (line: string) => void): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const machine = {
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
  progress(`starting ${options.mode} servers`);
  const target = await startBenchTarget(options, scenarioEnv(options));
  const warnings = coldBackendWarnings(target.backends, processUptimeSec);
  for (const w of warnings) progress(`warning: ${w}`);
  const loadgen: WatchedProcess = { name: "loadgen", role: "loadgen", pid: process.pid };
  const watched = [...target.servers, ...target.backends, loadgen];
  let result: ScenarioResult;
  try {
    progress(`servers: ${target.servers.map((s) => `${s.name}(${s.pid})`).join(" ")} at ${target.urls.join(" ")}`);
    result = await runScenario(options, target.urls, watched, progress);
  } finally {
    progress("stopping servers");
    await target.stop();
  }
  const profDir = options.serverCpuProfDir;
  const cpuProfiles = profDir
    ? readdirSync(profDir)
        .filter((f) => f.endsWith(".md") || f.endsWith(".cpuprofile"))
        .map((f) => join(profDir, f))
    : undefined;
  return {
    scenario: options.scenario,
    mode: options.mode,
    startedAt,
    finishedAt: new Date().toISOString(),
    command,
    machine,
    servers: target.servers,
    options,
    result,
    warnings,
    ...(cpuProfiles ? { cpuProfiles } : {}),
    ...(cpuProfiles
      ? { cpuProfileSummaries: cpuProfiles.filter((f) => f.endsWith(".cpuprofile")).map((f) => summarizeCpuProfile(f)) }
      : {}),
  };
}

/** Below this uptime a JVM backend is still warming up (docs/benchmarks.md, fifth pass: about 8 minutes under load). */
export const WARM_BACKEND_SEC = 10 * 60;

/**
 * Kafka and Cassandra need minutes of load before their CPU per message
 * settles: Cassandra started a minute before a run cost about twice its warm
 * figure and halved the distributed ceiling. Runs against such a backend say so.
 */
export function coldBackendWarnings(
  backends: readonly WatchedProcess[],
  uptimeSec: (pid: number) => number | undefined,
): string[] {
  return backends.flatMap((b) => {
    if (b.name !== "cassandra" && b.name !== "kafka") return [];
    const up = uptimeSec(b.pid);
    if (up === undefined || up >= WARM_BACKEND_SEC) return [];
    return [
      `${b.name} (pid ${b.pid}) started ${Math.round(up)} s ago, a JVM still warming up: here Cassandra cost about ` +
        "twice its warm CPU per message over its first minutes under load; warm the backends first (docs/benchmarks.md, fifth pass)",
    ];
  });
}

function runScenario(
  options: BenchOptions,
  urls: readonly string[],
  watched: readonly WatchedProcess[],
  progress: (line: string) => void,
): Promise<ScenarioResult> {
  switch (options.scenario) {
    case "steady":
      return runSteady(options, urls, watched);
    case "saturate":
      return runSaturate(options, urls, watched, progress);
    case "idle":
      return runIdle(options, urls, watched, progress);
    case "reconnect-storm":
      return runReconnectStorm(options, urls, watched, progress);
    case "presence":
      return runPresence(options, urls, watched, progress);
    case "slow-consumer":
      return runSlowConsumer(options, urls, watched, progress);
  }
}
