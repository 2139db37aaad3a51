import { createMessageTracker, type TrackerResult } from "./message-tracker.ts";
import { monotonicUs, runOpenLoop } from "./open-loop.ts";
import { scrapeEventLoopLag, type EventLoopLag } from "./server-metrics.ts";
import type { PairFleet } from "./pair-fleet.ts";
import {
  machineLoad,
  processUsage,
  sampleMachineCpu,
  snapshotProcesses,
  type MachineCpuSample,
  type MachineLoad,
  type ProcessUsage,
  type ProcSample,
  type WatchedProcess,
} from "./proc-stats.ts";

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
  /** Event-loop delay of each gateway/server during the window, from its /metrics. */
  readonly serverEventLoop: readonly EventLoopLag[];
  readonly sendRejections: number;
  /** Why the phase stopped early, if it did. */
  readonly aborted?: string;
  readonly processes: readonly ProcessUsage[];
  readonly cpuPerMessage: CpuPerMessage;
  /** The machine during the window: busy cores, and those busy for someone else (noise). */
  readonly machine: MachineLoad;
}

/**
 * Runs one load phase over a live fleet. The process snapshots are taken at
 * the window's edges, so CPU per message covers exactly the window in which
 * deliveries are counted.
 */
export async function runLoadPhase(
  fleet: PairFleet,
  target: { readonly urls: readonly string[]; readonly watched: readonly WatchedProcess[] },
  cfg: LoadPhaseConfig,
): Promise<LoadResult> {
  const { watched } = target;
  const startUs = monotonicUs() + 20_000;
  const windowStartUs = startUs + cfg.warmupMs * 1000;
  const windowEndUs = windowStartUs + cfg.windowMs * 1000;
  const tracker = createMessageTracker({ startUs: windowStartUs, endUs: windowEndUs });
  // Throughput counts arrivals in the window up to where it really closed (early, on abort).
  fleet.observe((userId, event) => tracker.observe(userId, event, monotonicUs()));
  const text = "m".repeat(cfg.bodyBytes);
  const stop = new AbortController();
  let aborted: string | undefined;
  let sendRejections = 0;
  let issuedInWindow = 0;

  let before: Map<number, ProcSample> | undefined;
  let after: Map<number, ProcSample> | undefined;
  let machineBefore: MachineCpuSample | undefined;
  let machineAfter: MachineCpuSample | undefined;
  let lagScrape: Promise<EventLoopLag[]> = Promise.resolve([]);
  let windowOpenedUs = windowStartUs;
  let windowClosedUs = windowEndUs;
  const openWindow = setTimeout(() => {
    windowOpenedUs = monotonicUs();
    before = snapshotProcesses(watched);
    machineBefore = sampleMachineCpu();
    // Resets the servers' delay histograms: the closing scrape covers the window.
    void scrapeEventLoopLag(target.urls);
  }, cfg.warmupMs + 20);
  const closeWindow = (): void => {
    if (after || !before) return;
    windowClosedUs = monotonicUs();
    tracker.closeWindow(windowClosedUs);
    after = snapshotProcesses(watched);
    machineAfter = sampleMachineCpu();
    lagScrape = scrapeEventLoopLag(target.urls);
  };
  const closeTimer = setTimeout(closeWindow, cfg.warmupMs + cfg.windowMs + 20);
  // A 10 ms ticker: how late it fires is how long the generator's event loop was stalled.
  let lastTickMs = performance.now();
  let maxStallMs = 0;
  const stallProbe = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - lastTickMs - 10);
    lastTickMs = now;
  }, 10);
  const maxBacklog = Math.max(1000, cfg.ratePerSec * cfg.maxBacklogSec);
  const watchdog = setInterval(() => {
    if (tracker.backlog() > maxBacklog) {
      aborted = `backlog above ${maxBacklog} messages (${cfg.maxBacklogSec} s of load)`;
      stop.abort();
    }
  }, 200);

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
  clearInterval(stallProbe);
  clearTimeout(openWindow);
  if (aborted) clearTimeout(closeTimer);
  closeWindow();
  // Drain: bounded by time; what is still missing then counts as lost.
  const drainDeadline = Date.now() + cfg.drainMs;
  while (tracker.outstandingMeasured() > 0 && Date.now() < drainDeadline) await Bun.sleep(50);
  clearTimeout(closeTimer);
  closeWindow();

  const serverEventLoop = await lagScrape;
  const windowSec = Math.max(0, (windowClosedUs - windowOpenedUs) / 1e6);
  const result = tracker.result();
  const processes = before && after ? processUsage(watched, before, after, windowSec) : [];
  const delivered = result.receivedInWindow;
  const cpuOf = (roles: readonly string[]): number =>
    processes.filter((p) => roles.includes(p.role)).reduce((sum, p) => sum + p.cpuSec, 0);
  const perMessageUs = (cpuSec: number): number => (delivered > 0 ? Math.round((cpuSec * 1e6) / delivered) : 0);
  const hasBackends = processes.some((p) => p.role === "backend");
  const rate = (n: number): number => (windowSec > 0 ? Math.round(n / windowSec) : 0);
  return {
    ...result,
    offeredRatePerSec: cfg.ratePerSec,
    issuedRatePerSec: rate(issuedInWindow),
    deliveredRatePerSec: rate(delivered),
    deviceDeliveriesPerSec: rate(result.deviceDeliveriesInWindow),
    windowSec: Math.round(windowSec * 100) / 100,
    maxIssueLagMs: Math.round(loop.maxIssueLagUs / 100) / 10,
    loadgenMaxStallMs: Math.round(maxStallMs),
    serverEventLoop,
    sendRejections,
    ...(aborted ? { aborted } : {}),
    processes,
    machine: machineBefore && machineAfter ? machineLoad(machineBefore, machineAfter, processes, windowSec) : { busyCores: 0, otherCores: 0 },
    cpuPerMessage: {
      serversUs: perMessageUs(cpuOf(["server", "gateway", "worker"])),
      ...(hasBackends ? { withBackendsUs: perMessageUs(cpuOf(["server", "gateway", "worker", "backend"])) } : {}),
      loadgenUs: perMessageUs(cpuOf(["loadgen"])),
    },
  };
}
