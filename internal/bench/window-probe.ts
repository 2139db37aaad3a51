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
import {
  eventLoopLagOf,
  scrapeServers,
  stageHistogramsOf,
  stageLatencies,
  type EventLoopLag,
  type MetricsScrape,
  type StageLatency,
} from "./server-metrics.ts";

/** What the processes and the machine did during a measured window. */
export interface WindowUsage {
  /** 0 when the window never opened (the phase stopped during its warm-up). */
  readonly windowSec: number;
  readonly processes: readonly ProcessUsage[];
  readonly machine: MachineLoad;
  readonly serverEventLoop: readonly EventLoopLag[];
  /** The servers' own view of a message's stages (their latency histograms over the window). */
  readonly serverStages: readonly StageLatency[];
}

/** Samples taken at the edges of a window. */
export interface WindowProbe {
  /** Closes the window now if it is open (an aborted phase); later calls do nothing. */
  close(): void;
  /** Cancels a window that has not opened yet. */
  cancel(): void;
  /** Waits for the closing samples. */
  usage(): Promise<WindowUsage>;
}

/**
 * Opens a window after `openAfterMs` and closes it after `closeAfterMs`:
 * /proc snapshots of every watched process, the machine's busy time, and a
 * /metrics scrape of the servers at each edge (the opening scrape resets
 * their event-loop delay histograms; their stage histograms are diffed).
 * The servers scraped are the watched processes with a metrics URL, else
 * the gateway URLs (external mode). `onClose` gets the closing instant on
 * the `nowUs` clock.
 */
export function startWindowProbe(
  target: { readonly urls: readonly string[]; readonly watched: readonly WatchedProcess[] },
  timing: { readonly openAfterMs: number; readonly closeAfterMs: number },
  deps: { readonly nowUs: () => number; readonly onClose: (atUs: number) => void },
): WindowProbe {
  let opened: { atUs: number; procs: Map<number, ProcSample>; machine: MachineCpuSample } | undefined;
  let closed: { atUs: number; procs: Map<number, ProcSample>; machine: MachineCpuSample } | undefined;
  const own = target.watched.flatMap((p) => (p.metricsUrl ? [p.metricsUrl] : []));
  const metricsUrls = own.length > 0 ? own : target.urls;
  let opening: Promise<MetricsScrape[]> = Promise.resolve([]);
  let closing: Promise<MetricsScrape[]> = Promise.resolve([]);

  const openTimer = setTimeout(() => {
    opened = { atUs: deps.nowUs(), procs: snapshotProcesses(target.watched), machine: sampleMachineCpu() };
    opening = scrapeServers(metricsUrls);
  }, timing.openAfterMs);
  const close = (): void => {
    clearTimeout(closeTimer);
    if (closed || !opened) return;
    closed = { atUs: deps.nowUs(), procs: snapshotProcesses(target.watched), machine: sampleMachineCpu() };
    deps.onClose(closed.atUs);
    closing = scrapeServers(metricsUrls);
  };
  const closeTimer = setTimeout(close, timing.closeAfterMs);

  return {
    close,
    cancel() {
      clearTimeout(openTimer);
      if (!opened) clearTimeout(closeTimer);
    },
    async usage() {
      const [first, last] = await Promise.all([opening, closing]);
      const serverEventLoop = eventLoopLagOf(last);
      const serverStages = stageLatencies(stageHistogramsOf(first), stageHistogramsOf(last));
      const servers = { serverEventLoop, serverStages };
      if (!opened || !closed) return { windowSec: 0, processes: [], machine: { busyCores: 0, otherCores: 0 }, ...servers };
      const windowSec = (closed.atUs - opened.atUs) / 1e6;
      const processes = processUsage(target.watched, opened.procs, closed.procs, windowSec);
      return { windowSec, processes, machine: machineLoad(opened.machine, closed.machine, processes, windowSec), ...servers };
    },
  };
}

/** Longest stall of this process's event loop, seen by a 10 ms ticker that fires late when the loop is blocked. */
export function startStallProbe(): { maxStallMs(): number; stop(): void } {
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - 10);
    last = now;
  }, 10);
  return { maxStallMs: () => Math.round(max), stop: () => clearInterval(timer) };
}
