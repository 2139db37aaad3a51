import { createMessageTracker, type TrackerResult } from "./message-tracker.ts";
import { monotonicUs, runOpenLoop } from "./open-loop.ts";
import type { PairFleet } from "./pair-fleet.ts";
import type { MachineLoad, ProcessUsage, WatchedProcess } from "./proc-stats.ts";
import type { EventLoopLag, StageLatency } from "./server-metrics.ts";
import { startStallProbe, startWindowProbe, type WindowUsage } from "./window-probe.ts";

/** One open-loop load at a fixed rate: warm-up, measured window, drain. */
export interface LoadPhaseConfig {
  readonly ratePerSec: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly bodyBytes: number;
  /** After the schedule ends, wait at most this for the measured messages' events. */
  readonly drainMs: number;
  /** Abort once more than this many seconds of load are undelivered (the rate cannot hold). */
  readonly maxBacklogSec: number;
}

/** CPU cost of one message that reached its recipient. */
export interface CpuPerMessage {
  /** Our server processes (embedded server, or gateways + workers). */
  readonly serversUs: number;
  /** Plus Kafka, Cassandra and Redis (shared: an upper bound). */
  readonly withBackendsUs?: number;
  /** The load generator itself (the SDK of every device). */
  readonly loadgenUs: number;
}

/** Everything one load phase measured. */
export interface LoadResult extends TrackerResult {
  readonly offeredRatePerSec: number;
  /** Sends issued inside the window per second. */
  readonly issuedRatePerSec: number;
  /** First arrivals at a recipient inside the window per second. */
  readonly deliveredRatePerSec: number;
  readonly deviceDeliveriesPerSec: number;
  readonly windowSec: number;
  /** Worst lag of the generator behind its schedule (it counts in the latencies). */
  readonly maxIssueLagMs: number;
  /** Longest stall of the load generator's event loop (GC, CPU starvation), warm-up included. */
  readonly loadgenMaxStallMs: number;
  /** Event-loop delay of each server process (embedded server, gateways, workers) during the window, from its /metrics. */
  readonly serverEventLoop: readonly EventLoopLag[];
  /** Each stage of a message as the servers' own latency histograms saw it during the window. */
  readonly serverStages: readonly StageLatency[];
  readonly sendRejections: number;
  /** Why the phase stopped early, if it did. */
  readonly aborted?: string;
  readonly processes: readonly ProcessUsage[];
  readonly cpuPerMessage: CpuPerMessage;
  /** The machine during the window: busy cores, and those busy for someone else (noise). */
  readonly machine: MachineLoad;
}

/**
 * Runs one load phase over a live fleet: the open loop for warm-up + window,
 * then a bounded drain. The process snapshots are taken at the window's
 * edges, so CPU per message covers exactly the window in which deliveries
 * are counted; a phase aborted for its backlog closes the window early.
 */
export async function runLoadPhase(
  fleet: PairFleet,
  target: { readonly urls: readonly string[]; readonly watched: readonly WatchedProcess[] },
  cfg: LoadPhaseConfig,
): Promise<LoadResult> {
  const startUs = monotonicUs() + 20_000;
  const windowStartUs = startUs + cfg.warmupMs * 1000;
  const windowEndUs = windowStartUs + cfg.windowMs * 1000;
  const tracker = createMessageTracker({ startUs: windowStartUs, endUs: windowEndUs });
  fleet.observe((userId, event) => tracker.observe(userId, event, monotonicUs()));
  const probe = startWindowProbe(
    target,
    { openAfterMs: cfg.warmupMs + 20, closeAfterMs: cfg.warmupMs + cfg.windowMs + 20 },
    // Throughput counts arrivals up to where the window really closed.
    { nowUs: monotonicUs, onClose: (atUs) => tracker.closeWindow(atUs) },
  );
  const stalls = startStallProbe();
  const stop = new AbortController();
  let aborted: string | undefined;
  const maxBacklog = Math.max(1000, cfg.ratePerSec * cfg.maxBacklogSec);
  const watchdog = setInterval(() => {
    if (tracker.backlog() <= maxBacklog) return;
    aborted = `backlog above ${maxBacklog} messages (${cfg.maxBacklogSec} s of load)`;
    stop.abort();
  }, 200);

  const text = "m".repeat(cfg.bodyBytes);
  let sendRejections = 0;
  let issuedInWindow = 0;
  const loop = await runOpenLoop(
    { ratePerSec: cfg.ratePerSec, durationMs: cfg.warmupMs + cfg.windowMs, startUs },
    {
      nowUs: monotonicUs,
      signal: stop.signal,
      fire(index, scheduledUs) {
        const sender = fleet.senders[index % fleet.senders.length]!;
        const clientMsgId = crypto.randomUUID();
        tracker.register(clientMsgId, scheduledUs);
        if (scheduledUs >= windowStartUs && scheduledUs < windowEndUs) issuedInWindow++;
        sender.device.send(sender.conversationId, text, clientMsgId).catch(() => sendRejections++);
      },
    },
  );
  clearInterval(watchdog);
  stalls.stop();
  if (aborted) {
    probe.cancel();
    probe.close();
  }
  // Drain, bounded by time: what no recipient holds by then is reported as undelivered.
  const drainDeadline = Date.now() + cfg.drainMs;
  while (tracker.outstandingMeasured() > 0 && Date.now() < drainDeadline) await Bun.sleep(50);
  probe.close();
  return summarize(cfg, tracker.result(), await probe.usage(), {
    issuedInWindow,
    sendRejections,
    maxIssueLagUs: loop.maxIssueLagUs,
    maxStallMs: stalls.maxStallMs(),
    ...(aborted ? { aborted } : {}),
  });
}

function summarize(
  cfg: LoadPhaseConfig,
  result: TrackerResult,
  usage: WindowUsage,
  run: { issuedInWindow: number; sendRejections: number; maxIssueLagUs: number; maxStallMs: number; aborted?: string },
): LoadResult {
  const { windowSec, processes } = usage;
  const delivered = windowSec > 0 ? result.receivedInWindow : 0;
  const cpuOf = (roles: readonly string[]): number =>
    processes.filter((p) => roles.includes(p.role)).reduce((sum, p) => sum + p.cpuSec, 0);
  const perMessageUs = (cpuSec: number): number => (delivered > 0 ? Math.round((cpuSec * 1e6) / delivered) : 0);
  const rate = (n: number): number => (windowSec > 0 ? Math.round(n / windowSec) : 0);
  const servers = ["server", "gateway", "worker"];
  return {
    ...result,
    offeredRatePerSec: cfg.ratePerSec,
    issuedRatePerSec: rate(run.issuedInWindow),
    deliveredRatePerSec: rate(delivered),
    deviceDeliveriesPerSec: rate(result.deviceDeliveriesInWindow),
    windowSec: Math.round(windowSec * 100) / 100,
    maxIssueLagMs: Math.round(run.maxIssueLagUs / 100) / 10,
    loadgenMaxStallMs: run.maxStallMs,
    serverEventLoop: usage.serverEventLoop,
    serverStages: usage.serverStages,
    sendRejections: run.sendRejections,
    ...(run.aborted ? { aborted: run.aborted } : {}),
    processes,
    machine: usage.machine,
    cpuPerMessage: {
      serversUs: perMessageUs(cpuOf(servers)),
      ...(processes.some((p) => p.role === "backend") ? { withBackendsUs: perMessageUs(cpuOf([...servers, "backend"])) } : {}),
      loadgenUs: perMessageUs(cpuOf(["loadgen"])),
    },
  };
}
