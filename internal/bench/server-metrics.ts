/** Event-loop delay of one server process over the last scrape interval. */
export interface EventLoopLag {
  readonly url: string;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const gauge = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, "m").exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
};

/**
 * Reads the servers' event-loop delay from their /metrics (prom-client's
 * default metrics, which restart the delay histogram at every scrape): a
 * scrape at the start of a window resets it, one at the end reads the worst
 * stall of the server's event loop in between. Servers without /metrics are
 * left out.
 */
export async function scrapeEventLoopLag(urls: readonly string[]): Promise<EventLoopLag[]> {
  const results = await Promise.all(
    urls.map(async (url): Promise<EventLoopLag | undefined> => {
      try {
        const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) return undefined;
        const text = await res.text();
        const p99 = gauge(text, "chat_nodejs_eventloop_lag_p99_seconds");
        const max = gauge(text, "chat_nodejs_eventloop_lag_max_seconds");
        if (p99 === undefined || max === undefined) return undefined;
        return { url, p99Ms: Math.round(p99 * 10_000) / 10, maxMs: Math.round(max * 10_000) / 10 };
      } catch {
        return undefined;
      }
    }),
  );
  return results.filter((r): r is EventLoopLag => r !== undefined);
}

/**
 * The value of one sample line (`name` with its labels, exactly as the
 * exposition prints it), summed over the servers' /metrics; a server that
 * does not answer, or lacks the line, counts 0.
 */
export async function scrapeMetric(urls: readonly string[], sample: string): Promise<number> {
  const values = await Promise.all(
    urls.map(async (url) => {
      try {
        const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
        const text = res.ok ? await res.text() : "";
        const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
        return line ? Number(line.slice(sample.length + 1)) || 0 : 0;
      } catch {
        return 0;
      }
    }),
  );
  return values.reduce((a, b) => a + b, 0);
}
