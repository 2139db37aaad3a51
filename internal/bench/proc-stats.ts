import { readdirSync, readFileSync } from "node:fs";

/** A process whose resources the bench reports. */
export interface WatchedProcess {
  readonly name: string;
  /** `server` (embedded, every role), `gateway`, `worker`, `loadgen` (this process), `backend` (Kafka, Cassandra, Redis). */
  readonly role: "server" | "gateway" | "worker" | "loadgen" | "backend";
  readonly pid: number;
  /** Shared with other users of the machine: its CPU is not all ours. */
  readonly shared?: boolean;
  /** Where its /metrics are (our servers). */
  readonly metricsUrl?: string;
}

/** CPU and memory of one process at one instant, from /proc. */
export interface ProcSample {
  readonly pid: number;
  /** user + system CPU since the process started. */
  readonly cpuSec: number;
  readonly rssBytes: number;
  /** Peak RSS since the process started (VmHWM). */
  readonly peakRssBytes: number;
}

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel. */
const ticksPerSec = 100;

/** Reads /proc/<pid>/stat and /proc/<pid>/status; undefined once the process is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
    return { pid, cpuSec: (utime + stime) / ticksPerSec, rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

/** How long the process has been running, from /proc; undefined once it is gone. */
export function processUptimeSec(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, starttime, in clock ticks after boot (fields counted after the command name's ')').
    const startTicks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const machineUpSec = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    return Number.isFinite(startTicks) && Number.isFinite(machineUpSec) ? machineUpSec - startTicks / ticksPerSec : undefined;
  } catch {
    return undefined;
  }
}

/** What one process used between two samples. */
export interface ProcessUsage {
  readonly name: string;
  readonly role: WatchedProcess["role"];
  readonly pid: number;
  readonly shared: boolean;
  readonly cpuSec: number;
  /** cpuSec / wall seconds: 1.0 is one core busy. */
  readonly cpuCores: number;
  readonly rssMiB: number;
  readonly peakRssMiB: number;
}

const mib = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10;

/** Takes a sample of every watched process now; call `usage` on a later snapshot. */
export function snapshotProcesses(processes: readonly WatchedProcess[]): Map<number, ProcSample> {
  const out = new Map<number, ProcSample>();
  for (const p of processes) {
    const s = sampleProc(p.pid);
    if (s) out.set(p.pid, s);
  }
  return out;
}

/** Per-process CPU between two snapshots, with RSS as of the later one. */
export function processUsage(
  processes: readonly WatchedProcess[],
  before: Map<number, ProcSample>,
  after: Map<number, ProcSample>,
  wallSec: number,
): ProcessUsage[] {
  return processes.flatMap((p) => {
    const a = before.get(p.pid);
    const b = after.get(p.pid);
    if (!a || !b) return [];
    const cpuSec = Math.round((b.cpuSec - a.cpuSec) * 100) / 100;
    return [
      {
        name: p.name,
        role: p.role,
        pid: p.pid,
        shared: p.shared ?? false,
        cpuSec,
        cpuCores: wallSec > 0 ? Math.round((cpuSec / wallSec) * 100) / 100 : 0,
        rssMiB: mib(b.rssBytes),
        peakRssMiB: mib(b.peakRssBytes),
      },
    ];
  });
}

/** Samples the RSS of some processes periodically and keeps the peak of their sum. */
export interface RssSampler {
  /** Highest summed RSS seen so far, in bytes. */
  peakBytes(): number;
  stop(): void;
}

export function startRssSampler(pids: readonly number[], intervalMs: number): RssSampler {
  let peak = 0;
  const sample = (): void => {
    let sum = 0;
    for (const pid of pids) sum += sampleProc(pid)?.rssBytes ?? 0;
    peak = Math.max(peak, sum);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    peakBytes: () => (sample(), peak),
    stop: () => clearInterval(timer),
  };
}

/**
 * The local Kafka, Cassandra and Redis servers, found by their command
 * lines. They serve other users of the machine too, so their CPU is an
 * upper bound of what this run cost them.
 */
export function findBackendProcesses(): WatchedProcess[] {
  const patterns: [string, RegExp][] = [
    ["kafka", /kafka\.Kafka\b/],
    ["cassandra", /CassandraDaemon/],
    ["redis", /redis-server/],
  ];
  const found: WatchedProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    const match = patterns.find(([, re]) => re.test(cmdline));
    if (match) found.push({ name: match[0], role: "backend", pid: Number(entry), shared: true });
  }
  return found;
}

/** Busy and total CPU time of the whole machine (all cores), from /proc/stat. */
export interface MachineCpuSample {
  readonly busySec: number;
  readonly totalSec: number;
}

export function sampleMachineCpu(): MachineCpuSample {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  // idle and iowait are the only non-busy columns.
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busySec: (total - idle) / ticksPerSec, totalSec: total / ticksPerSec };
}

/** How busy the machine was between two samples, and how much of that was not ours. */
export interface MachineLoad {
  /** Cores busy on average (2.0 = both cores of this machine saturated). */
  readonly busyCores: number;
  /** Busy cores not explained by the watched processes (servers, backends, load generator): other users of the machine. */
  readonly otherCores: number;
}

export function machineLoad(before: MachineCpuSample, after: MachineCpuSample, ours: readonly ProcessUsage[], wallSec: number): MachineLoad {
  if (wallSec <= 0) return { busyCores: 0, otherCores: 0 };
  const busy = (after.busySec - before.busySec) / wallSec;
  // Shared backends count as ours here (during a run most of their work is the run's);
  // their own line in the report says they are shared.
  const mine = ours.reduce((sum, p) => sum + p.cpuSec, 0) / wallSec;
  const round = (x: number): number => Math.round(x * 100) / 100;
  return { busyCores: round(busy), otherCores: round(Math.max(0, busy - mine)) };
}
