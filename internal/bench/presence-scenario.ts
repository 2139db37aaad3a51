import type { BenchOptions } from "./bench-options.ts";
import { runPrefix, type BenchDevice } from "./bench-device.ts";
import { connectGroup, openDeviceGroup, startConversations } from "./device-group.ts";
import {
  machineLoad,
  processUsage,
  sampleMachineCpu,
  snapshotProcesses,
  type MachineLoad,
  type ProcessUsage,
  type WatchedProcess,
} from "./proc-stats.ts";

/** Result of `presence`. */
export interface PresenceResult {
  readonly kind: "presence";
  readonly users: number;
  /** Conversation peers each user watches. */
  readonly watchPeers: number;
  readonly windowSec: number;
  /** Disconnects per second (each device flaps on its own random schedule). */
  readonly flapsPerSec: number;
  /** PresenceUpdate entries delivered to devices per second (snapshots on reconnect included). */
  readonly presenceEventsPerSec: number;
  /** Of those, entries that changed what the receiving device believed (online <-> offline). */
  readonly transitionsSeenPerSec: number;
  readonly processes: readonly ProcessUsage[];
  readonly machine: MachineLoad;
}

/** Online and offline periods of a flapping device, in ms: offline periods straddle the 500 ms grace the bench sets. */
const onlineMs = [1_000, 4_000] as const;
const offlineMs = [200, 2_000] as const;
const between = (range: readonly [number, number]): number => range[0] + Math.random() * (range[1] - range[0]);

/**
 * `presence`: N users in a ring, each with conversations to its next K
 * users, watching the presence of all its peers. Every device flaps:
 * online 1-4 s, offline 0.2-2 s (the server runs with a 500 ms grace, so
 * short drops stay invisible). Counts the presence entries devices receive.
 */
export async function runPresence(
  options: BenchOptions,
  urls: readonly string[],
  watched: readonly WatchedProcess[],
  progress: (line: string) => void,
): Promise<PresenceResult> {
  const n = options.connections;
  const k = Math.min(options.watchPeers, n - 1);
  progress(`presence: registering ${n} users, ${k} conversations each`);
  const devices = await openDeviceGroup({
    count: n,
    urls,
    sourceAddresses: options.sourceAddresses,
    concurrency: options.connectConcurrency,
    prefix: runPrefix(),
  });
  const pairs: (readonly [BenchDevice, BenchDevice])[] = [];
  for (let i = 0; i < n; i++) for (let d = 1; d <= k; d++) pairs.push([devices[i]!, devices[(i + d) % n]!]);
  await startConversations(pairs, options.connectConcurrency);
  const peersOf = (i: number): string[] => {
    const ids = new Set<string>();
    for (let d = 1; d <= k; d++) {
      ids.add(devices[(i + d) % n]!.userId);
      ids.add(devices[(i - d + n) % n]!.userId);
    }
    return [...ids];
  };

  devices.forEach((device, i) => device.client().watchPresence(peersOf(i)));
  const counts = countPresence(devices);
  const stop = new AbortController();

  try {
    progress(`presence: connecting ${n} devices`);
    const connected = await connectGroup(devices, options.connectConcurrency, 120_000);
    if (connected.failed > 0) throw new Error(`presence: ${connected.failed} devices did not connect: ${connected.firstError}`);
    const flappers = devices.map((d) => flap(d, stop.signal, () => void (counts.counting && counts.flaps++)));
    progress(`presence: flapping; warm-up ${options.warmupMs} ms, window ${options.durationMs} ms`);
    await Bun.sleep(options.warmupMs);
    const before = snapshotProcesses(watched);
    const machineBefore = sampleMachineCpu();
    const start = performance.now();
    counts.counting = true;
    await Bun.sleep(options.durationMs);
    counts.counting = false;
    const windowSec = (performance.now() - start) / 1000;
    const after = snapshotProcesses(watched);
    const machineAfter = sampleMachineCpu();
    stop.abort();
    await Promise.all(flappers);
    const processes = processUsage(watched, before, after, windowSec);
    const perSec = (x: number): number => Math.round(x / windowSec);
    return {
      kind: "presence",
      users: n,
      watchPeers: k,
      windowSec: Math.round(windowSec * 100) / 100,
      flapsPerSec: perSec(counts.flaps),
      presenceEventsPerSec: perSec(counts.events),
      transitionsSeenPerSec: perSec(counts.transitions),
      processes,
      machine: machineLoad(machineBefore, machineAfter, processes, windowSec),
    };
  } finally {
    stop.abort();
    await Promise.all(devices.map((d) => d.stop()));
  }
}

/** Presence entries the devices receive while `counting`, and how many changed what the receiver believed. */
function countPresence(devices: readonly BenchDevice[]): { counting: boolean; events: number; transitions: number; flaps: number } {
  const counts = { counting: false, events: 0, transitions: 0, flaps: 0 };
  for (const device of devices) {
    const believed = new Map<string, boolean>();
    device.on((event) => {
      if (event.type !== "presence") return;
      const was = believed.get(event.presence.userId);
      believed.set(event.presence.userId, event.presence.online);
      if (!counts.counting) return;
      counts.events++;
      if (was !== undefined && was !== event.presence.online) counts.transitions++;
    });
  }
  return counts;
}

/** Cycles a device online and offline until `signal` aborts; `onDrop` is told of every disconnect. */
async function flap(device: BenchDevice, signal: AbortSignal, onDrop: () => void): Promise<void> {
  // Bounded by the abort and by a cycle count far above any run's length.
  for (let cycle = 0; cycle < 100_000 && !signal.aborted; cycle++) {
    await Bun.sleep(between(onlineMs));
    if (signal.aborted) return;
    await device.stop();
    onDrop();
    await Bun.sleep(between(offlineMs));
    if (signal.aborted) return;
    device.start();
  }
}
