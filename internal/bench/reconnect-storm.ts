import type { BenchOptions } from "./bench-options.ts";
import { mapLimit, runPrefix, type BenchDevice } from "./bench-device.ts";
import { connectGroup, openDeviceGroup, startConversations } from "./device-group.ts";
import { createLatencyHistogram, type LatencySummary } from "./latency-histogram.ts";
import { nextTurn } from "../domain/index.ts";
import { startStallProbe } from "./window-probe.ts";
import {
  machineLoad,
  processUsage,
  sampleMachineCpu,
  snapshotProcesses,
  startRssSampler,
  type MachineLoad,
  type ProcessUsage,
  type WatchedProcess,
} from "./proc-stats.ts";

/** Result of `reconnect-storm`. */
export interface ReconnectStormResult {
  readonly kind: "reconnect-storm";
  readonly devices: number;
  readonly senders: number;
  /** Messages sent to the dropped devices while they were away. */
  readonly messages: number;
  /** Time to get every message accepted ("sent") while the devices were away. */
  readonly sendSec: number;
  /** Messages stored by the worker before the reconnect, and the time from the first send until then. */
  readonly stored: number;
  readonly storedSec: number;
  /** From the moment all devices reconnect until the last one holds every message sent to it. */
  readonly catchUpSec: number;
  readonly caughtUp: number;
  /** Per device: reconnect -> holding every message sent to it. */
  readonly perDevice: LatencySummary;
  readonly gatewayRssBeforeMiB: number;
  readonly gatewayPeakRssMiB: number;
  readonly processes: readonly ProcessUsage[];
  readonly streamFailures: Record<string, number>;
  readonly machine: MachineLoad;
  /**
   * Longest stall of the load generator's event loop during the catch-up: a device's
   * open and heartbeat timers run in that loop, so a stall near their timeouts (10 s
   * for the welcome) makes stream failures the generator's own.
   */
  readonly loadgenMaxStallMs: number;
}

const mib = (bytes: number): number => Math.round(bytes / 104_857.6) / 10;

/**
 * `reconnect-storm`: N devices (one per user) hold a conversation each with
 * one of N/100 sender users. All N drop at once (each client is replaced by
 * a new one over a new connection, keeping its storage and cursors, as an
 * app that lost its network), M messages are sent to them, accepted and
 * stored, then all N reconnect at the same instant. Measures the time until every
 * device holds every message, and the gateways' peak RSS meanwhile.
 */
export async function runReconnectStorm(
  options: BenchOptions,
  urls: readonly string[],
  watched: readonly WatchedProcess[],
  progress: (line: string) => void,
): Promise<ReconnectStormResult> {
  const n = options.connections;
  const m = options.stormMessages > 0 ? options.stormMessages : n * 5;
  const prefix = runPrefix();
  const group = { urls, sourceAddresses: options.sourceAddresses, concurrency: options.connectConcurrency };
  progress(`reconnect-storm: registering ${n} devices`);
  const storm = await openDeviceGroup({ ...group, count: n, prefix: `${prefix}d` });
  const senderCount = Math.max(1, Math.ceil(n / 100));
  const senders = await openDeviceGroup({ ...group, count: senderCount, prefix: `${prefix}s`, linkOffset: n });
  const senderOf = (i: number): BenchDevice => senders[i % senders.length]!;
  const conversations = await startConversations(storm.map((d, i) => [d, senderOf(i)] as const), options.connectConcurrency);
  // Messages from the senders each storm device has stored since the drop.
  const received = new Array<number>(n).fill(0);
  const failures: Record<string, number> = {};
  storm.forEach((device, i) =>
    device.on((event) => {
      if (event.type === "messages") {
        for (const msg of event.messages) if (msg.senderUserId !== device.userId) received[i]!++;
      } else if (event.type === "connection" && event.state === "waiting" && event.failure) {
        const key = `${event.failure.code}/${event.failure.reason}`;
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }),
  );

  try {
    progress(`reconnect-storm: connecting ${n} devices and ${senders.length} senders`);
    const first = await connectGroup([...senders, ...storm], options.connectConcurrency, 120_000);
    if (first.failed > 0) throw new Error(`reconnect-storm: ${first.failed} devices did not connect: ${first.firstError}`);
    progress("reconnect-storm: dropping every device at once");
    await Promise.all(storm.map((d) => d.reopen()));
    received.fill(0);
    progress(`reconnect-storm: sending ${m} messages while they are away`);
    const route = (j: number) => ({ sender: senderOf(j % n), conversationId: conversations[j % n]! });
    const sent = await sendWhileAway(senders, route, m, options.bodyBytes);
    progress(
      `reconnect-storm: ${sent.accepted}/${m} accepted in ${sent.seconds.toFixed(1)} s, ` +
        `${sent.stored}/${m} stored in ${sent.storedSeconds.toFixed(1)} s; reconnecting all ${n} at once`,
    );
    const expected = Array.from({ length: n }, (_, i) => Math.floor(m / n) + (i < m % n ? 1 : 0));
    await Bun.sleep(1_000);
    const storming = await measureCatchUp(storm, watched, { received, expected, timeoutMs: Math.max(options.durationMs, 120_000) });
    progress(`reconnect-storm: ${storming.caughtUp}/${n} caught up in ${storming.catchUpSec} s`);
    return {
      kind: "reconnect-storm",
      devices: n,
      senders: senders.length,
      messages: m,
      sendSec: Math.round(sent.seconds * 100) / 100,
      storedSec: Math.round(sent.storedSeconds * 100) / 100,
      stored: sent.stored,
      ...storming,
      streamFailures: failures,
    };
  } finally {
    await mapLimit([...storm, ...senders], 1000, (d) => d.stop());
  }
}

/**
 * Queues `count` messages (the j-th to `route(j)`) and waits, bounded, until the log accepted
 * them all, then until the worker stored them all (the sender holds its sequenced copy): the
 * storm then measures catch-up, not a backlog still draining into the store.
 */
async function sendWhileAway(
  senders: readonly BenchDevice[],
  route: (j: number) => { sender: BenchDevice; conversationId: string },
  count: number,
  bodyBytes: number,
): Promise<{ accepted: number; seconds: number; stored: number; storedSeconds: number }> {
  // A message can report "sent" more than once (SendAccepted, then its seq): count ids.
  const acceptedIds = new Set<string>();
  for (const s of senders) s.on((event) => void (event.type === "send" && event.tick !== "pending" && acceptedIds.add(event.clientMsgId)));
  const used = new Map<BenchDevice, Set<string>>();
  const start = performance.now();
  const text = "s".repeat(bodyBytes);
  for (let j = 0; j < count; j++) {
    const { sender, conversationId } = route(j);
    used.set(sender, (used.get(sender) ?? new Set()).add(conversationId));
    void sender.send(conversationId, text, crypto.randomUUID()).catch(() => undefined);
    // Yield now and then so the senders' streams drain while the rest is queued.
    if (j % 500 === 499) await Bun.sleep(1);
  }
  await senders[0]!.client().waitFor(() => acceptedIds.size >= count, 180_000, `${count} messages accepted`).catch(() => undefined);
  const seconds = (performance.now() - start) / 1000;
  // Stored = the sender's own copy has its seq, which the worker hands out after the store write.
  const stored = () => {
    let n = 0;
    for (const [sender, conversationIds] of used) {
      for (const id of conversationIds) for (const m of sender.client().messages(id)) if (m.own && m.seq !== undefined) n++;
    }
    return n;
  };
  for (const deadline = performance.now() + 300_000; stored() < count && performance.now() < deadline; ) await Bun.sleep(500);
  return { accepted: acceptedIds.size, seconds, stored: stored(), storedSeconds: (performance.now() - start) / 1000 };
}

type CatchUp = Pick<
  ReconnectStormResult,
  "catchUpSec" | "caughtUp" | "perDevice" | "gatewayRssBeforeMiB" | "gatewayPeakRssMiB" | "processes" | "machine" | "loadgenMaxStallMs"
>;

/** Starts every device in the same instant and polls (every 20 ms, bounded) until each holds what was sent to it. */
async function measureCatchUp(
  storm: readonly BenchDevice[],
  watched: readonly WatchedProcess[],
  counts: { readonly received: readonly number[]; readonly expected: readonly number[]; readonly timeoutMs: number },
): Promise<CatchUp> {
  const gatewayPids = watched.filter((p) => p.role === "gateway" || p.role === "server").map((p) => p.pid);
  const sampler = startRssSampler(gatewayPids, 100);
  const rssBefore = sampler.peakBytes();
  const before = snapshotProcesses(watched);
  const machineBefore = sampleMachineCpu();
  const stalls = startStallProbe();
  const perDevice = createLatencyHistogram();
  const done = new Array<boolean>(storm.length).fill(false);
  let caughtUp = 0;
  const start = performance.now();
  for (let i = 0; i < storm.length; i++) {
    storm[i]!.start();
    // Let I/O in every hundred starts: started in one turn, 10,000 devices blocked this loop
    // (and with it their own open and heartbeat timers) for up to 11 s on a slow machine, and
    // timed their streams out whatever the servers did.
    if (i % 100 === 99) await nextTurn();
  }
  while (caughtUp < storm.length && performance.now() - start < counts.timeoutMs) {
    for (let i = 0; i < storm.length; i++) {
      if (done[i] || counts.received[i]! < counts.expected[i]!) continue;
      done[i] = true;
      caughtUp++;
      perDevice.recordUs((performance.now() - start) * 1000);
    }
    if (caughtUp < storm.length) await Bun.sleep(20);
  }
  const catchUpSec = (performance.now() - start) / 1000;
  const processes = processUsage(watched, before, snapshotProcesses(watched), catchUpSec);
  const machine = machineLoad(machineBefore, sampleMachineCpu(), processes, catchUpSec);
  const peak = sampler.peakBytes();
  sampler.stop();
  stalls.stop();
  return {
    catchUpSec: Math.round(catchUpSec * 100) / 100,
    caughtUp,
    perDevice: perDevice.summary(),
    gatewayRssBeforeMiB: mib(rssBefore),
    gatewayPeakRssMiB: mib(peak),
    processes,
    machine,
    loadgenMaxStallMs: stalls.maxStallMs(),
  };
}
