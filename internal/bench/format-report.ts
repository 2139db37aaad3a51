import type { IdleResult } from "./idle-scenario.ts";
import type { LatencySummary } from "./latency-histogram.ts";
import type { LoadResult } from "./load-phase.ts";
import type { PresenceResult } from "./presence-scenario.ts";
import type { MachineLoad, ProcessUsage } from "./proc-stats.ts";
import type { ReconnectStormResult } from "./reconnect-storm.ts";
import type { StageLatency } from "./server-metrics.ts";
import type { BenchReport, ScenarioResult } from "./run-bench.ts";
import type { SlowConsumerResult } from "./slow-consumer.ts";
import type { SaturateResult } from "./throughput-scenarios.ts";

/** Renders rows as an aligned text table. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const line = (r: readonly string[]): string => r.map((v, c) => v.padStart(widths[c] ?? 0)).join("  ");
  return [line(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

const latencyRow = (name: string, s: LatencySummary): (string | number)[] => [
  name, s.count, s.p50Ms, s.p90Ms, s.p99Ms, s.p999Ms, s.maxMs,
];

const latencyTable = (load: LoadResult): string =>
  table(
    ["latency (ms, from scheduled send)", "count", "p50", "p90", "p99", "p99.9", "max"],
    [
      latencyRow("end-to-end (first recipient device)", load.e2e),
      latencyRow("sent ack (SendAccepted)", load.sentAck),
      latencyRow("delivered receipt at sender", load.deliveredReceipt),
    ],
  );

const processTable = (processes: readonly ProcessUsage[]): string =>
  table(
    ["process", "pid", "cpu s", "cores", "rss MiB", "peak MiB"],
    processes.map((p) => [`${p.name}${p.shared ? " (shared)" : ""}`, p.pid, p.cpuSec, p.cpuCores, p.rssMiB, p.peakRssMiB]),
  );

const machineLine = (what: string, m: MachineLoad): string =>
  `machine during the ${what}: ${m.busyCores} cores busy, ${m.otherCores} of them for other users`;

const errors = (load: LoadResult): string =>
  [
    `undelivered after drain ${load.lost}`,
    `send rejections ${load.sendRejections}`,
    ...Object.entries(load.serverErrors).map(([k, v]) => `error ${k} x${v}`),
    ...Object.entries(load.streamFailures).map(([k, v]) => `stream ${k} x${v}`),
  ].join(", ");

/** The servers' histograms are coarse (buckets of 0.5 ms to 5 s): their quantiles are interpolated, as Prometheus does. */
const stageTable = (stages: readonly StageLatency[]): string[] =>
  stages.length === 0
    ? []
    : [
        table(
          ["server stage (their histograms, ms)", "count", "p50", "p99"],
          stages.map((s) => [s.stage, s.count, s.p50Ms, s.p99Ms]),
        ),
      ];

function loadSummary(load: LoadResult): string {
  const cpu = load.cpuPerMessage;
  const backends = cpu.withBackendsUs === undefined ? "" : `, with Kafka/Cassandra/Redis ${cpu.withBackendsUs} us`;
  return [
    `offered ${load.offeredRatePerSec}/s, issued ${load.issuedRatePerSec}/s, delivered ${load.deliveredRatePerSec}/s ` +
      `(${load.deviceDeliveriesPerSec} device deliveries/s) over ${load.windowSec} s`,
    `load generator: lag behind schedule max ${load.maxIssueLagMs} ms, event-loop stall max ${load.loadgenMaxStallMs} ms`,
    `CPU per delivered message: servers ${cpu.serversUs} us${backends}, load generator ${cpu.loadgenUs} us`,
    `errors: ${errors(load)}${load.aborted ? `; ABORTED: ${load.aborted}` : ""}`,
    machineLine("window", load.machine),
    ...load.serverEventLoop.map((l) => `server event loop at ${l.url}: delay p99 ${l.p99Ms} ms, max ${l.maxMs} ms`),
    latencyTable(load),
    ...stageTable(load.serverStages),
    processTable(load.processes),
  ].join("\n");
}

function saturateText(r: SaturateResult): string[] {
  const steps = r.steps.map((s) => [
    s.offeredRatePerSec, s.deliveredRatePerSec, s.e2e.p50Ms, s.e2e.p99Ms, s.e2e.p999Ms,
    s.sentAck.p99Ms, s.cpuPerMessage.serversUs, s.machine.otherCores, s.verdict,
  ]);
  return [
    `${r.pairs} pairs x ${r.devicesPerUser} devices/user; last rate that held (p99 <= ${r.p99LimitMs} ms): ` +
      `${r.lastHeldRatePerSec}/s offered, ${r.lastHeldDeliveredPerSec}/s delivered`,
    table(["offered/s", "delivered/s", "p50", "p99", "p99.9", "sent p99", "cpu us/msg", "others' cores", "verdict"], steps),
    ...r.steps.filter((s) => s.held).slice(-1).map((s) => `last held step:\n${loadSummary(s)}`),
  ];
}

const idleText = (r: IdleResult): string[] => [
  `${r.connect.connected}/${r.connections} live in ${r.connect.seconds} s (${r.connectRatePerSec}/s)` +
    (r.connect.firstError ? `; first error: ${r.connect.firstError}` : ""),
  `gateway RSS ${r.gatewayRssBeforeMiB} -> ${r.gatewayRssAfterMiB} MiB: ${r.gatewayRssPerConnectionKiB} KiB per connection ` +
    `(load generator: ${r.loadgenRssPerConnectionKiB} KiB)`,
  `${machineLine(`hold of ${r.holdSec} s (heartbeats only)`, r.machine)}:`,
  processTable(r.holdProcesses),
];

const stormText = (r: ReconnectStormResult): string[] => [
  `${r.devices} devices dropped; ${r.messages} messages from ${r.senders} senders accepted in ${r.sendSec} s while away, ` +
    `${r.stored} stored after ${r.storedSec} s`,
  `all reconnected at once: ${r.caughtUp}/${r.devices} caught up in ${r.catchUpSec} s; ` +
    `per device p50 ${r.perDevice.p50Ms} ms, p99 ${r.perDevice.p99Ms} ms, max ${r.perDevice.maxMs} ms`,
  `gateway RSS ${r.gatewayRssBeforeMiB} MiB before, peak ${r.gatewayPeakRssMiB} MiB; stream failures ${JSON.stringify(r.streamFailures)}`,
  `load generator: event-loop stall max ${r.loadgenMaxStallMs} ms during the catch-up`,
  machineLine("storm", r.machine),
  processTable(r.processes),
];

const presenceText = (r: PresenceResult): string[] => [
  `${r.users} users watching ${r.watchPeers * 2} peers each; ${r.flapsPerSec} flaps/s over ${r.windowSec} s`,
  `presence entries delivered ${r.presenceEventsPerSec}/s, of which transitions ${r.transitionsSeenPerSec}/s`,
  machineLine("window", r.machine),
  processTable(r.processes),
];

function slowConsumerText(r: SlowConsumerResult): string[] {
  // About ten rows of the series, always with the last one.
  const every = Math.max(1, Math.ceil(r.series.length / 10));
  const rows = r.series.filter((_, i) => i % every === 0 || i === r.series.length - 1);
  const when = r.cuts > 0 ? ` (first at ${r.firstCutSec} s, all ${r.cuts} by ${r.lastCutSec} s after the stall)` : "";
  return [
    `${r.stuckDevices} devices, ${r.senders} senders offering ${r.offeredRatePerSec}/s of ${r.bodyBytes} B: ${r.warmupSec} s while the ` +
      `devices read, then ${r.sendSec} s while they did not (${r.messagesIssued} issued, ${r.messagesAccepted} accepted in all); ` +
      `outbound queue limit ${r.queueLimit ?? "server default"}`,
    `cut with SLOW_CONSUMER: ${r.cuts}${when}; reading again, ${r.devicesToldSlowConsumer} found the Reconnect; ends ${JSON.stringify(r.streamEnds)}`,
    `gateway RSS ${r.rssBeforeStreamsMiB} MiB before the streams, ${r.rssWarmMiB} after the warm-up, peak ${r.rssPeakMiB} at ${r.rssPeakAtSec} s, ` +
      `${r.rssEndOfHoldMiB} at the end of the hold, ${r.rssAfterCloseMiB} after the streams closed`,
    `RSS growth over the warm-up's, per stuck device: peak ${r.peakGrowthPerStuckDeviceKiB} KiB, end of hold ${r.endGrowthPerStuckDeviceKiB} KiB; ` +
      `on the wire while stuck: at most ${r.windowBytesMax} B per device; ` +
      `held for a device until it read again: median ${r.heldKiBMedian} KiB, max ${r.heldKiBMax} KiB`,
    table(["s", "gateway RSS MiB", "cut", "queued events"], rows.map((p) => [p.sec, p.rssMiB, p.cuts, p.queuedEvents])),
  ];
}

function profileText(report: BenchReport): string[] {
  return (report.cpuProfileSummaries ?? []).flatMap((p) => [
    `server CPU profile ${p.file} (${p.samples} samples; native calls charged to their caller):`,
    table(["share %", "module"], p.modules.map((m) => [m.percent, m.name])),
    table(["share %", "function"], p.functions.map((f) => [f.percent, f.name])),
    table(["share %", "nearest project function"], p.projectFunctions.map((f) => [f.percent, f.name])),
  ]);
}

/** The human-readable report printed at the end of a run, with the profile summary when there is one. */
export function formatReport(report: BenchReport): string {
  const m = report.machine;
  const head = [
    `${report.scenario} / ${report.mode} - ${report.startedAt} - ${m.cores} cores, ${m.memoryGiB} GiB, load ${m.loadAverage1m} at start`,
    report.command,
  ];
  const warnings = report.warnings.map((w) => `WARNING: ${w}`);
  return [...head, ...warnings, ...resultText(report.result), ...profileText(report)].join("\n");
}

function resultText(r: ScenarioResult): string[] {
  switch (r.kind) {
    case "steady":
      return [`${r.pairs} pairs x ${r.devicesPerUser} devices/user`, loadSummary(r.load)];
    case "saturate":
      return saturateText(r);
    case "idle":
      return idleText(r);
    case "reconnect-storm":
      return stormText(r);
    case "presence":
      return presenceText(r);
    case "slow-consumer":
      return slowConsumerText(r);
  }
}
