import type { BenchOptions } from "./bench-options.ts";
import { mapLimit, runPrefix, type BenchDevice } from "./bench-device.ts";
import { connectGroup, openDeviceGroup, startConversations } from "./device-group.ts";
import { monotonicUs, runOpenLoop } from "./open-loop.ts";
import { sampleProc, type WatchedProcess } from "./proc-stats.ts";
import { scrapeMetric } from "./server-metrics.ts";
import { openStalledStream, type StalledStream, type StalledStreamEnd } from "./stalled-stream.ts";

/** One point of the slow-consumer time series (seconds since the devices stalled). */
export interface SlowConsumerSample {
  readonly sec: number;
  /** Summed RSS of the gateway processes. */
  readonly rssMiB: number;
  /** Sessions the gateways have cut with SLOW_CONSUMER since the stall. */
  readonly cuts: number;
  /** Events waiting in the gateways' outbound queues. */
  readonly queuedEvents: number;
}

/** Result of `slow-consumer`: what devices that stop reading cost a gateway, and when they are cut. */
export interface SlowConsumerResult {
  readonly kind: "slow-consumer";
  readonly stuckDevices: number;
  readonly senders: number;
  /** The gateways' OUTBOUND_QUEUE_LIMIT when the bench set it (`--queue-limit`); otherwise the server's own setting. */
  readonly queueLimit: number | undefined;
  readonly bodyBytes: number;
  readonly offeredRatePerSec: number;
  /** The same load while the devices still read. */
  readonly warmupSec: number;
  /** Sending while they do not. */
  readonly sendSec: number;
  /** Messages issued and accepted ("sent") while the devices did not read. */
  readonly messagesIssued: number;
  readonly messagesAccepted: number;
  /** Sessions cut with SLOW_CONSUMER, from the gateways' metrics, and when (seconds after the stall). */
  readonly cuts: number;
  readonly firstCutSec: number | undefined;
  readonly lastCutSec: number | undefined;
  /** Stuck devices that, reading again, found a Reconnect with SLOW_CONSUMER; and how each stream ended. */
  readonly devicesToldSlowConsumer: number;
  readonly streamEnds: Record<string, number>;
  /**
   * Gateway RSS: before the streams opened; after the warm-up (the reference:
   * streams open, heap grown to the traffic); the peak while the devices did
   * not read; at the end of the hold; after the streams closed.
   */
  readonly rssBeforeStreamsMiB: number;
  readonly rssWarmMiB: number;
  readonly rssPeakMiB: number;
  readonly rssPeakAtSec: number;
  readonly rssEndOfHoldMiB: number;
  readonly rssAfterCloseMiB: number;
  /** (peak - warm) / stuck devices, and (end of hold - warm) / stuck devices. */
  readonly peakGrowthPerStuckDeviceKiB: number;
  readonly endGrowthPerStuckDeviceKiB: number;
  /** Bytes each device got on the wire after it stopped granting window (the HTTP/2 windows), max over devices. */
  readonly windowBytesMax: number;
  /**
   * Bytes each device received once it read again after the hold: everything
   * the gateway still held for it (queue, HTTP/2 buffers), then the Reconnect.
   */
  readonly heldKiBMedian: number;
  readonly heldKiBMax: number;
  readonly series: readonly SlowConsumerSample[];
}

const mib = (bytes: number): number => Math.round(bytes / 104_857.6) / 10;
const kib = (bytes: number): number => Math.round(bytes / 102.4) / 10;
/** How long the devices stay stuck after the last message (at most), so the series shows where RSS settles. */
const maxHoldMs = 15_000;

/**
 * `slow-consumer`: `--connections` devices open a bidi stream each
 * (`openStalledStream`) and catch up. Their conversation peers, one sender
 * per two of them, send them `--rate` messages/s of `--body-bytes`: first
 * for `--warmup` while the devices read (the gateway's heap and caches grow
 * to what the traffic alone needs: the reference RSS), then for `--duration`
 * after every device stopped reading (no more HTTP/2 window, while pings
 * keep the connection and the stream alive). The gateways' RSS is sampled
 * every 250 ms and their SLOW_CONSUMER count every second; after a hold the
 * devices read again and report what the gateway still had for them.
 */
export async function runSlowConsumer(
  options: BenchOptions,
  urls: readonly string[],
  watched: readonly WatchedProcess[],
  progress: (line: string) => void,
): Promise<SlowConsumerResult> {
  const k = options.connections;
  const prefix = runPrefix();
  const group = { urls, sourceAddresses: options.sourceAddresses, concurrency: options.connectConcurrency };
  progress(`slow-consumer: registering ${k} devices that will stop reading`);
  const stuckUsers = await openDeviceGroup({ ...group, count: k, prefix: `${prefix}k` });
  // A sender reads its own copies and acks of everything it sends: spread
  // the load so that no sender is the slow consumer.
  const senders = await openDeviceGroup({ ...group, count: Math.ceil(k / 2), prefix: `${prefix}s`, linkOffset: k });
  const senderOf = (i: number): BenchDevice => senders[i % senders.length]!;
  const conversations = await startConversations(stuckUsers.map((d, i) => [senderOf(i), d] as const), options.connectConcurrency);
  const acceptedIds = new Set<string>();
  for (const s of senders) s.on((e) => void (e.type === "send" && e.tick !== "pending" && acceptedIds.add(e.clientMsgId)));
  const gatewayPids = watched.filter((p) => p.role === "gateway" || p.role === "server").map((p) => p.pid);
  const rss = (): number => gatewayPids.reduce((sum, pid) => sum + (sampleProc(pid)?.rssBytes ?? 0), 0);
  const text = "c".repeat(options.bodyBytes);
  const sendFor = (durationMs: number) =>
    runOpenLoop(
      { ratePerSec: options.ratePerSec, durationMs, startUs: monotonicUs() },
      {
        nowUs: monotonicUs,
        fire: (j) => void senderOf(j % k).send(conversations[j % k]!, text, crypto.randomUUID()).catch(() => undefined),
        signal: AbortSignal.timeout(durationMs + 10_000),
      },
    );
  let streams: StalledStream[] = [];
  try {
    const connected = await connectGroup(senders, options.connectConcurrency, 60_000);
    if (connected.failed > 0) throw new Error(`slow-consumer: ${connected.failed} senders did not connect: ${connected.firstError}`);
    await Bun.sleep(1_000);
    const rssBeforeStreams = rss();
    streams = stuckUsers.map((d, i) => openStalledStream(urls[i % urls.length]!, d.token));
    await mapLimit(streams, options.connectConcurrency, (s) => s.waitLive(60_000));
    progress(`slow-consumer: ${k} devices live; warm-up: ${options.ratePerSec}/s of ${options.bodyBytes} B for ${options.warmupMs} ms while they read`);
    await sendFor(options.warmupMs);
    await Bun.sleep(1_000);
    const rssWarm = rss();
    const cutsBefore = await slowConsumerCuts(urls);
    for (const s of streams) s.stall();
    progress(`slow-consumer: the devices stopped reading; the same load for ${options.durationMs} ms`);
    const recorder = startSeries(urls, rss, cutsBefore);
    const loop = await sendFor(options.durationMs);
    const sendSec = recorder.elapsedSec();
    await Bun.sleep(Math.min(maxHoldMs, options.durationMs));
    const rssEndOfHold = rss();
    const series = await recorder.stop();
    progress(`slow-consumer: ${series.at(-1)?.cuts ?? 0} cut; the devices read again`);

    const windowBytes = streams.map((s) => s.bytesWhileStalled);
    const before = streams.map((s) => s.bytesReceived);
    const ends = await Promise.all(streams.map((s) => s.resume(30_000)));
    const held = streams.map((s, i) => s.bytesReceived - before[i]!).sort((a, b) => a - b);
    for (const s of streams) s.close();
    streams = [];
    await Bun.sleep(1_000);
    return {
      kind: "slow-consumer",
      stuckDevices: k,
      senders: senders.length,
      queueLimit: options.queueLimit,
      bodyBytes: options.bodyBytes,
      offeredRatePerSec: options.ratePerSec,
      warmupSec: options.warmupMs / 1000,
      sendSec: Math.round(sendSec * 10) / 10,
      messagesIssued: loop.issued,
      messagesAccepted: acceptedIds.size,
      ...cutTimes(series),
      ...endCounts(ends),
      ...rssFigures(series, { rssBeforeStreams, rssWarm, rssEndOfHold, rssAfterClose: rss(), k }),
      windowBytesMax: Math.max(0, ...windowBytes),
      heldKiBMedian: kib(held[Math.floor(held.length / 2)] ?? 0),
      heldKiBMax: kib(held.at(-1) ?? 0),
      series,
    };
  } finally {
    for (const s of streams) s.close();
    await mapLimit([...senders, ...stuckUsers], 1000, (d) => d.stop());
  }
}

/** SLOW_CONSUMER cuts so far, summed over the gateways. */
const slowConsumerCuts = (urls: readonly string[]): Promise<number> =>
  scrapeMetric(urls, 'chat_sessions_closed_total{reason="SLOW_CONSUMER"}');

/** Samples RSS every 250 ms (the series keeps each second's highest) and the gateways' counters every second. */
function startSeries(urls: readonly string[], rss: () => number, cutsBefore: number) {
  const start = performance.now();
  const elapsedSec = (): number => (performance.now() - start) / 1000;
  const series: SlowConsumerSample[] = [];
  let peakInSecond = 0;
  let scraping: Promise<void> = Promise.resolve();
  const rssTimer = setInterval(() => void (peakInSecond = Math.max(peakInSecond, rss())), 250);
  const scrape = async (): Promise<void> => {
    const [cuts, queuedEvents] = await Promise.all([slowConsumerCuts(urls), scrapeMetric(urls, "chat_outbound_queued_events")]);
    const rssBytes = Math.max(peakInSecond, rss());
    peakInSecond = 0;
    series.push({ sec: Math.round(elapsedSec() * 10) / 10, rssMiB: mib(rssBytes), cuts: cuts - cutsBefore, queuedEvents });
  };
  const scrapeTimer = setInterval(() => void (scraping = scraping.then(scrape)), 1_000);
  return {
    elapsedSec,
    async stop(): Promise<SlowConsumerSample[]> {
      clearInterval(rssTimer);
      clearInterval(scrapeTimer);
      await (scraping = scraping.then(scrape));
      return series;
    },
  };
}

function cutTimes(series: readonly SlowConsumerSample[]): Pick<SlowConsumerResult, "cuts" | "firstCutSec" | "lastCutSec"> {
  const cuts = series.at(-1)?.cuts ?? 0;
  return {
    cuts,
    firstCutSec: series.find((p) => p.cuts > 0)?.sec,
    lastCutSec: cuts > 0 ? series.find((p) => p.cuts === cuts)?.sec : undefined,
  };
}

function endCounts(ends: readonly StalledStreamEnd[]): Pick<SlowConsumerResult, "devicesToldSlowConsumer" | "streamEnds"> {
  const streamEnds: Record<string, number> = {};
  for (const e of ends) {
    const key = `${e.how}/${e.reconnectReason ?? "no reconnect"}`;
    streamEnds[key] = (streamEnds[key] ?? 0) + 1;
  }
  return { devicesToldSlowConsumer: ends.filter((e) => e.reconnectReason === "SLOW_CONSUMER").length, streamEnds };
}

type RssFigures = Pick<
  SlowConsumerResult,
  | "rssBeforeStreamsMiB"
  | "rssWarmMiB"
  | "rssPeakMiB"
  | "rssPeakAtSec"
  | "rssEndOfHoldMiB"
  | "rssAfterCloseMiB"
  | "peakGrowthPerStuckDeviceKiB"
  | "endGrowthPerStuckDeviceKiB"
>;

function rssFigures(
  series: readonly SlowConsumerSample[],
  at: { rssBeforeStreams: number; rssWarm: number; rssEndOfHold: number; rssAfterClose: number; k: number },
): RssFigures {
  const warmMiB = mib(at.rssWarm);
  const peak = series.reduce((best, p) => (p.rssMiB > best.rssMiB ? p : best), { sec: 0, rssMiB: warmMiB });
  const perDeviceKiB = (growthMiB: number): number => Math.round((growthMiB * 1024 * 10) / at.k) / 10;
  return {
    rssBeforeStreamsMiB: mib(at.rssBeforeStreams),
    rssWarmMiB: warmMiB,
    rssPeakMiB: peak.rssMiB,
    rssPeakAtSec: peak.sec,
    rssEndOfHoldMiB: mib(at.rssEndOfHold),
    rssAfterCloseMiB: mib(at.rssAfterClose),
    peakGrowthPerStuckDeviceKiB: perDeviceKiB(peak.rssMiB - warmMiB),
    endGrowthPerStuckDeviceKiB: perDeviceKiB(mib(at.rssEndOfHold) - warmMiB),
  };
}
