import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CheckConfig } from "./check-config.ts";
import { startClusterDeployment } from "./cluster-deployment.ts";
import { startEmbeddedDeployment, type Deployment } from "./deployment.ts";
import { createFaultInjector } from "./fault-injector.ts";
import { createFleet, type Fleet } from "./fleet.ts";
import type { History } from "./history.ts";
import { createHistoryRecorder, type RecorderStats } from "./history-recorder.ts";
import { createPrng } from "./prng.ts";
import { awaitQuiescence, collectFinalState, type QuiescenceResult } from "./quiescence.ts";
import { collectServerState } from "./server-state.ts";
import { verifyHistory } from "./verify-history.ts";
import { countNames, type Verdict } from "./violations.ts";
import { runWorkload } from "./workload.ts";

/** Everything a run found out. */
export interface CheckReport {
  readonly config: CheckConfig;
  readonly verdict: Verdict;
  readonly history: History;
  readonly composed: number;
  readonly reads: number;
  readonly devices: number;
  readonly faults: Readonly<Record<string, number>>;
  readonly quiescence: QuiescenceResult;
  readonly recorder: RecorderStats;
  readonly elapsedMs: number;
  readonly dataDir: string;
  /** Distributed mode: gateway or worker processes that exited without a fault killing them (each was restarted). */
  readonly unexpectedExits: number;
  /** The one-line summary (see formatSummary). */
  readonly summary: string;
}

/** What a run depends on. */
export interface CheckDeps {
  readonly clock?: { nowMs(): number };
  /** Progress lines (setup done, faults stopped, ...); silent by default. */
  readonly progress?: (line: string) => void;
}

/**
 * Runs the history checker: the embedded server (or, in distributed mode, a
 * cluster of gateway and worker processes on Kafka, Cassandra and Redis), a
 * fleet of SDK devices behind fault proxies, a seeded workload and fault
 * schedule; then heals everything, waits for quiescence, collects device and
 * server end state and verifies the whole history (DESIGN §3, invariants 1-5).
 */
export async function runCheck(cfg: CheckConfig, deps: CheckDeps = {}): Promise<CheckReport> {
  const clock = deps.clock ?? { nowMs: () => Date.now() };
  const progress = deps.progress ?? (() => undefined);
  const startMs = clock.nowMs();
  const dataDir = cfg.dataDir ?? mkdtempSync(join(tmpdir(), "chat-check-"));
  const prng = createPrng(cfg.seed);
  const recorder = createHistoryRecorder({ clock });
  const deployment = await startDeployment(cfg, dataDir, { progress, record: recorder.fault });
  let fleet: Fleet | undefined;
  try {
    fleet = await createFleet(
      {
        users: cfg.users,
        devicesPerUser: cfg.devicesPerUser,
        conversationsPerUser: cfg.conversationsPerUser,
        dataDir,
        runId: `${cfg.seed}_${startMs.toString(36)}`,
        backoff: { baseMs: 50, maxMs: 1_000 },
      },
      { serverUrl: deployment.url, gatewayPorts: deployment.gatewayPorts, recorder, prng: prng.fork() },
    );
    progress(`fleet ready: ${fleet.users.length} users, ${fleet.devices.length} devices, ${fleet.conversations.length} conversations`);

    const faults = createFaultInjector(
      { kinds: cfg.faults, order: cfg.faultOrder, everyMs: cfg.faultEveryMs, maxNetworkFaultMs: cfg.maxNetworkFaultMs, maxDownMs: cfg.maxDownMs },
      { fleet, server: deployment.faults(fleet), recorder, prng: prng.fork() },
    );
    const stopFaults = new AbortController();
    const faulting = faults.run(stopFaults.signal);
    const work = await runWorkload(
      { messages: cfg.messages, durationMs: cfg.durationMs, readProbability: cfg.readProbability },
      { fleet, recorder, prng: prng.fork(), clock },
    );
    stopFaults.abort();
    await faulting;
    await faults.heal();
    // A restart in flight when faults stopped has completed; anything still down comes back.
    await Promise.all(fleet.devices.map((d) => d.start()));
    progress(`workload done: ${work.composed} composed, faults ${JSON.stringify(faults.counts())}; waiting for quiescence`);

    const quiescence = await awaitQuiescence({ timeoutMs: cfg.quiesceTimeoutMs, pollMs: 200 }, { fleet, serverUrl: deployment.url, clock, progress });
    progress(`quiescence: ${quiescence.quiet ? "reached" : `NOT reached (${quiescence.blockedOn})`} after ${quiescence.waitedMs} ms`);
    const final = await collectFinalState(fleet);
    const serverState = await collectServerState(deployment.url, fleet.users, fleet.conversations);
    const history: History = { ...recorder.snapshot(), final, server: serverState };
    const verdict = verifyHistory(history);
    progress(`observed: ${history.observations.length} observations, ${JSON.stringify(recorder.stats())}`);
    const partial = {
      config: cfg,
      verdict,
      history,
      composed: work.composed,
      reads: work.reads,
      devices: fleet.devices.length,
      faults: faults.counts(),
      quiescence,
      recorder: recorder.stats(),
      elapsedMs: clock.nowMs() - startMs,
      dataDir,
      unexpectedExits: deployment.unexpectedExits(),
    };
    return { ...partial, summary: formatSummary(partial) };
  } finally {
    await fleet?.close();
    await deployment.stop();
  }
}

function startDeployment(
  cfg: CheckConfig,
  dataDir: string,
  deps: { readonly progress: (line: string) => void; readonly record: (description: string) => void },
): Promise<Deployment> {
  if (cfg.mode === "embedded") {
    return startEmbeddedDeployment({
      dataDir: join(dataDir, "server"),
      heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      maxDownMs: cfg.maxDownMs,
      kinds: cfg.faults,
    });
  }
  return startClusterDeployment(
    {
      gateways: cfg.gateways,
      workers: cfg.workers,
      partitions: cfg.partitions,
      heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      maxProcessDownMs: cfg.maxProcessDownMs,
      kinds: cfg.faults,
    },
    deps,
  );
}

/** Removes a temp data directory the run created (kept by callers when a violation needs a post-mortem). */
export function removeDataDir(report: Pick<CheckReport, "dataDir" | "config">): void {
  if (report.config.dataDir === undefined) rmSync(report.dataDir, { recursive: true, force: true });
}

/**
 * One line: sizes, faults, then every violation counter, e.g.
 * `messages=300 sent=300 devices=8 conversations=6 faults=41 fault_kinds=down:9,... lost=0 ... unconverged_devices=0`.
 */
export function formatSummary(r: Omit<CheckReport, "summary">): string {
  const faultTotal = Object.values(r.faults).reduce((a, b) => a + b, 0);
  const kinds = Object.entries(r.faults)
    .map(([k, n]) => `${k}:${n}`)
    .join(",");
  const counters = countNames.map((n) => `${n}=${r.verdict.counts[n]}`).join(" ");
  return [
    `messages=${r.composed}`,
    `sent=${r.recorder.sentAcked}`,
    `devices=${r.devices}`,
    `conversations=${r.history.conversations.length}`,
    `faults=${faultTotal}`,
    `fault_kinds=${kinds || "none"}`,
    `reconnects=${r.recorder.reconnects}`,
    counters,
    `quiesced=${r.quiescence.quiet ? "yes" : "no"}`,
    // Distributed runs say so, and whether a process died on its own; the embedded line is unchanged.
    ...(r.config.mode === "distributed" ? [`mode=distributed`, `unexpected_exits=${r.unexpectedExits}`] : []),
    `seed=${r.config.seed}`,
    `elapsed_s=${(r.elapsedMs / 1_000).toFixed(1)}`,
  ].join(" ");
}
