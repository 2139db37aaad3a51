/** Event-loop delay of one server process over the last scrape interval. */
export interface EventLoopLag {
  readonly url: string;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** One server's /metrics text at one instant ("" when it did not answer). */
export interface MetricsScrape {
  readonly url: string;
  readonly text: string;
}

/** Fetches /metrics of every server; a server that does not answer gives "". */
export async function scrapeServers(urls: readonly string[]): Promise<MetricsScrape[]> {
  return Promise.all(
    urls.map(async (url) => {
      try {
        const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
        return { url, text: res.ok ? await res.text() : "" };
      } catch {
        return { url, text: "" };
      }
    }),
  );
}

const gauge = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, "m").exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
};

/**
 * The servers' event-loop delay from their /metrics (prom-client's default
 * metrics, which restart the delay histogram at every scrape): a scrape at
 * the start of a window resets it, one at the end reads the worst stall of
 * the server's event loop in between. Servers without /metrics are left out.
 */
export function eventLoopLagOf(scrapes: readonly MetricsScrape[]): EventLoopLag[] {
  return scrapes.flatMap(({ url, text }) => {
    const p99 = gauge(text, "chat_nodejs_eventloop_lag_p99_seconds");
    const max = gauge(text, "chat_nodejs_eventloop_lag_max_seconds");
    if (p99 === undefined || max === undefined) return [];
    return [{ url, p99Ms: Math.round(p99 * 10_000) / 10, maxMs: Math.round(max * 10_000) / 10 }];
  });
}

/**
 * The value of one sample line (`name` with its labels, exactly as the
 * exposition prints it), summed over the servers' /metrics; a server that
 * does not answer, or lacks the line, counts 0.
 */
export async function scrapeMetric(urls: readonly string[], sample: string): Promise<number> {
  let sum = 0;
  for (const { text } of await scrapeServers(urls)) {
    const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
    sum += line ? Number(line.slice(sample.length + 1)) || 0 : 0;
  }
  return sum;
}

/** The server-side stages of a message the bench reports, by histogram series. */
const STAGES = [
  { series: "chat_log_append_seconds", stage: "log append (send -> sent ack)" },
  { series: "chat_delivery_latency_seconds", stage: "accept -> push to gateway" },
  { series: 'chat_store_write_seconds{op="append_message"}', stage: "store write: message" },
  { series: 'chat_store_write_seconds{op="advance_watermarks"}', stage: "store write: receipt watermarks" },
] as const;

/** Cumulative bucket counts (upper bound in seconds -> count), summed over servers, by series. */
export type HistogramCounts = ReadonlyMap<string, ReadonlyMap<number, number>>;

const BUCKET_LINE = /^([a-z_:][a-z0-9_:]*)_bucket\{(.*)\} ([0-9.eE+-]+)$/;

/**
 * The bucket lines of the stage histograms in the scrapes, summed over the
 * servers. A series is its name plus its labels other than `le`, as
 * `name{k="v"}` (prom-client prints `le` first).
 */
export function stageHistogramsOf(scrapes: readonly MetricsScrape[]): HistogramCounts {
  const wanted = new Set<string>(STAGES.map((s) => s.series));
  const out = new Map<string, Map<number, number>>();
  for (const { text } of scrapes) {
    for (const line of text.split("\n")) {
      const m = BUCKET_LINE.exec(line);
      if (!m) continue;
      const [, name, labels = "", value] = m;
      const le = /(?:^|,)le="([^"]+)"/.exec(labels)?.[1];
      if (le === undefined) continue;
      const rest = labels.replace(/(?:^|,)le="[^"]+"/, "").replace(/^,/, "");
      const series = rest ? `${name}{${rest}}` : `${name}`;
      if (!wanted.has(series)) continue;
      const buckets = out.get(series) ?? new Map<number, number>();
      out.set(series, buckets);
      const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + Number(value));
    }
  }
  return out;
}

/** A server-side stage during the window, from the servers' own histograms. */
export interface StageLatency {
  readonly stage: string;
  readonly count: number;
  /** Interpolated within the bucket, as Prometheus' histogram_quantile does; `> x` when above the last bound. */
  readonly p50Ms: number | string;
  readonly p99Ms: number | string;
}

/**
 * Quantile `q` of cumulative buckets, interpolated linearly inside the bucket
 * that holds it (what Prometheus' histogram_quantile does), in ms; above the
 * last finite bound it says `> bound`.
 */
export function bucketQuantileMs(buckets: readonly (readonly [number, number])[], q: number): number | string {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return 0;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (!Number.isFinite(bound)) return `> ${lowerBound * 1000}`;
      const share = count === lowerCount ? 1 : (rank - lowerCount) / (count - lowerCount);
      return Math.round((lowerBound + (bound - lowerBound) * share) * 10_000) / 10;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return `> ${lowerBound * 1000}`;
}

/** The stages' latencies between two scrapes (counters only grow; a restarted server would count from 0). */
export function stageLatencies(before: HistogramCounts, after: HistogramCounts): StageLatency[] {
  return STAGES.flatMap(({ series, stage }) => {
    const end = after.get(series);
    if (!end) return [];
    const start = before.get(series);
    const window = [...end].map(([bound, count]): [number, number] => [bound, Math.max(0, count - (start?.get(bound) ?? 0))]);
    const count = window.find(([bound]) => !Number.isFinite(bound))?.[1] ?? 0;
    if (count === 0) return [];
    return [{ stage, count, p50Ms: bucketQuantileMs(window, 0.5), p99Ms: bucketQuantileMs(window, 0.99) }];
  });
}
