import type { BenchOptions } from "./bench-options.ts";
import { runPrefix } from "./bench-device.ts";
import { connectGroup, openDeviceGroup, startConversations, type ConnectOutcome } from "./device-group.ts";
import {
  machineLoad,
  processUsage,
  sampleMachineCpu,
  snapshotProcesses,
  type MachineLoad,
  type ProcessUsage,
  type WatchedProcess,
} from "./proc-stats.ts";

/** Result of `idle`: what an open, silent stream costs the gateway. */
export interface IdleResult {
  readonly kind: "idle";
  readonly connections: number;
  readonly connect: ConnectOutcome;
  /** Live devices per second while connecting (login excluded). */
  readonly connectRatePerSec: number;
  readonly gatewayRssBeforeMiB: number;
  readonly gatewayRssAfterMiB: number;
  /** (RSS after - RSS before) / connected devices, summed over gateway processes. */
  readonly gatewayRssPerConnectionKiB: number;
  /** Load generator's RSS per connection (the SDK side), for comparison. */
  readonly loadgenRssPerConnectionKiB: number;
  readonly holdSec: number;
  /** CPU during the hold, when only heartbeats flow. */
  readonly holdProcesses: readonly ProcessUsage[];
  readonly machine: MachineLoad;
}

const isGateway = (p: WatchedProcess): boolean => p.role === "gateway" || p.role === "server";
const sumRss = (watched: readonly WatchedProcess[], pick: (p: WatchedProcess) => boolean): number => {
  const snap = snapshotProcesses(watched.filter(pick));
  let sum = 0;
  for (const s of snap.values()) sum += s.rssBytes;
  return sum;
};

/**
 * `idle`: N users with one device each, in pairs with a conversation,
 * connect and then stay silent apart from heartbeats. RSS is read once the
 * accounts exist (registered over one shared setup connection), before the
 * conversations start and the devices connect, and again after a settling
 * pause: the difference is what each device's connection, stream and
 * conversation hold, an upper bound for the stream alone.
 */
export async function runIdle(
  options: BenchOptions,
  urls: readonly string[],
  watched: readonly WatchedProcess[],
  progress: (line: string) => void,
): Promise<IdleResult> {
  const n = options.connections;
  progress(`idle: registering ${n} users`);
  const devices = await openDeviceGroup({
    count: n,
    urls,
    sourceAddresses: options.sourceAddresses,
    concurrency: options.connectConcurrency,
    prefix: runPrefix(),
  });
  const pairs = Array.from({ length: Math.floor(n / 2) }, (_, i) => [devices[2 * i]!, devices[2 * i + 1]!] as const);
  try {
    Bun.gc(true);
    await Bun.sleep(1_000);
    // Read before the conversations start: each pair's first device opens its
    // own connection for that call, and a device's connection is part of its cost.
    const gatewayBefore = sumRss(watched, isGateway);
    const loadgenBefore = sumRss(watched, (p) => p.role === "loadgen");
    progress(`idle: gateway RSS ${Math.round(gatewayBefore / 104_857.6) / 10} MiB; starting ${pairs.length} conversations`);
    await startConversations(pairs, options.connectConcurrency);
    progress(`idle: connecting ${n} devices, ${options.connectConcurrency} at a time`);
    const connect = await connectGroup(devices, options.connectConcurrency, 120_000);
    progress(`idle: ${connect.connected} live in ${connect.seconds} s (${connect.failed} failed); holding ${options.durationMs} ms`);
    // Let the gateway finish registering routes and presence before reading it.
    await Bun.sleep(n >= 1000 ? 3_000 : 500);
    const before = snapshotProcesses(watched);
    const machineBefore = sampleMachineCpu();
    const holdStart = performance.now();
    await Bun.sleep(options.durationMs);
    const after = snapshotProcesses(watched);
    const machineAfter = sampleMachineCpu();
    const holdSec = (performance.now() - holdStart) / 1000;
    const gatewayAfter = sumRss(watched, isGateway);
    const loadgenAfter = sumRss(watched, (p) => p.role === "loadgen");
    const holdProcesses = processUsage(watched, before, after, holdSec);
    const perConnKiB = (delta: number): number => (connect.connected > 0 ? Math.round(delta / 1024 / connect.connected * 10) / 10 : 0);
    return {
      kind: "idle",
      connections: n,
      connect,
      connectRatePerSec: connect.seconds > 0 ? Math.round(connect.connected / connect.seconds) : 0,
      gatewayRssBeforeMiB: Math.round(gatewayBefore / 104_857.6) / 10,
      gatewayRssAfterMiB: Math.round(gatewayAfter / 104_857.6) / 10,
      gatewayRssPerConnectionKiB: perConnKiB(gatewayAfter - gatewayBefore),
      loadgenRssPerConnectionKiB: perConnKiB(loadgenAfter - loadgenBefore),
      holdSec: Math.round(holdSec * 10) / 10,
      holdProcesses,
      machine: machineLoad(machineBefore, machineAfter, holdProcesses, holdSec),
    };
  } finally {
    await Promise.all(devices.map((d) => d.stop()));
  }
}
