import * as hdr from "hdr-histogram-js";

/** Percentiles of one latency distribution, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** A latency recorder backed by an HDR histogram (3 significant digits, 1 us to 10 min). */
export interface LatencyHistogram {
  /** Records one latency in microseconds (negative values count as 0). */
  recordUs(latencyUs: number): void;
  summary(): LatencySummary;
  readonly count: number;
}

const highestTrackableUs = 600_000_000;

/**
 * Creates an empty histogram. Values are kept in microseconds so that the
 * sub-millisecond latencies of a quiet loopback run are not rounded to 0;
 * values beyond 10 minutes are clamped (a run never lasts that long).
 */
export function createLatencyHistogram(): LatencyHistogram {
  // The pure-JS build: the WebAssembly one needs an async init and gains
  // nothing at the few thousand records per second recorded here.
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: highestTrackableUs,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 64,
    useWebAssembly: false,
  });
  const ms = (us: number): number => Math.round(us) / 1000;
  return {
    recordUs(latencyUs) {
      histogram.recordValue(Math.min(highestTrackableUs, Math.max(1, Math.round(latencyUs))));
    },
    summary() {
      if (histogram.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0 };
      return {
        count: histogram.totalCount,
        p50Ms: ms(histogram.getValueAtPercentile(50)),
        p90Ms: ms(histogram.getValueAtPercentile(90)),
        p99Ms: ms(histogram.getValueAtPercentile(99)),
        p999Ms: ms(histogram.getValueAtPercentile(99.9)),
        maxMs: ms(histogram.maxValue),
        meanMs: ms(histogram.mean),
      };
    },
    get count() {
      return histogram.totalCount;
    },
  };
}
