import type { BenchOptions } from "./bench-options.ts";
import { runPrefix } from "./bench-device.ts";
import { runLoadPhase, type LoadPhaseConfig, type LoadResult } from "./load-phase.ts";
import { openPairFleet, type PairFleet } from "./pair-fleet.ts";
import type { WatchedProcess } from "./proc-stats.ts";

/** Result of `steady`: one fixed offered rate. */
export interface SteadyResult {
  readonly kind: "steady";
  readonly pairs: number;
  readonly devicesPerUser: number;
  readonly load: LoadResult;
}

/** Result of `saturate`: rising steps until the p99 limit breaks. */
export interface SaturateResult {
  readonly kind: "saturate";
  readonly pairs: number;
  readonly devicesPerUser: number;
  readonly p99LimitMs: number;
  /** Highest offered rate whose step held (0 if the first step failed). */
  readonly lastHeldRatePerSec: number;
  /** Delivered rate of that step. */
  readonly lastHeldDeliveredPerSec: number;
  readonly steps: readonly (LoadResult & { readonly held: boolean; readonly verdict: string })[];
}

async function withFleet<T>(options: BenchOptions, urls: readonly string[], body: (fleet: PairFleet) => Promise<T>): Promise<T> {
  const fleet = await openPairFleet({
    pairs: options.pairs,
    devicesPerUser: options.devicesPerUser,
    urls,
    sourceAddresses: options.sourceAddresses,
    concurrency: Math.min(options.connectConcurrency, 64),
    prefix: runPrefix(),
    connectTimeoutMs: 60_000,
  });
  try {
    return await body(fleet);
  } finally {
    await fleet.stop();
  }
}

/**
 * Steady reports whatever latency its rate gets, so it only stops when 30 s
 * of load is undelivered (to bound memory); a saturate step that falls 5 s
 * behind has already failed its p99 limit.
 */
const phaseConfig = (options: BenchOptions, ratePerSec: number, maxBacklogSec: number, drainMs: number): LoadPhaseConfig => ({
  ratePerSec,
  warmupMs: options.warmupMs,
  windowMs: options.durationMs,
  bodyBytes: options.bodyBytes,
  drainMs,
  maxBacklogSec,
});

/** `steady`: the fleet at one offered rate. */
export async function runSteady(options: BenchOptions, urls: readonly string[], watched: readonly WatchedProcess[]): Promise<SteadyResult> {
  return withFleet(options, urls, async (fleet) => ({
    kind: "steady",
    pairs: options.pairs,
    devicesPerUser: options.devicesPerUser,
    load: await runLoadPhase(fleet, { urls, watched }, phaseConfig(options, options.ratePerSec, 30, 30_000)),
  }));
}

/** Why a step did not hold, or "held". */
export function stepVerdict(step: LoadResult, p99LimitMs: number): string {
  if (step.aborted) return `aborted: ${step.aborted}`;
  if (step.lost > 0) return `${step.lost} measured messages undelivered after the drain`;
  if (step.e2e.count === 0) return "nothing delivered";
  if (step.e2e.p99Ms > p99LimitMs) return `p99 ${step.e2e.p99Ms} ms > ${p99LimitMs} ms`;
  if (step.deliveredRatePerSec < step.offeredRatePerSec * 0.95) return `delivered ${step.deliveredRatePerSec}/s < 95% of offered`;
  return "held";
}

/**
 * `saturate`: steps of rate x stepFactor on one fleet and one server, each
 * with its own warm-up and window, until a step breaks the p99 limit (or
 * loses messages, or falls behind); reports the last rate that held.
 */
export async function runSaturate(
  options: BenchOptions,
  urls: readonly string[],
  watched: readonly WatchedProcess[],
  progress: (line: string) => void,
): Promise<SaturateResult> {
  return withFleet(options, urls, async (fleet) => {
    const steps: SaturateResult["steps"][number][] = [];
    let rate = options.ratePerSec;
    // Bounded by the rate cap and by a step count.
    for (let i = 0; i < 40 && rate <= options.maxRatePerSec; i++) {
      const step = await runLoadPhase(fleet, { urls, watched }, phaseConfig(options, rate, 5, 10_000));
      const verdict = stepVerdict(step, options.p99LimitMs);
      steps.push({ ...step, held: verdict === "held", verdict });
      progress(`saturate: ${rate}/s -> delivered ${step.deliveredRatePerSec}/s, p50 ${step.e2e.p50Ms} ms, p99 ${step.e2e.p99Ms} ms: ${verdict}`);
      if (verdict !== "held") break;
      rate = Math.round(rate * options.stepFactor);
      await Bun.sleep(1_000);
    }
    const held = steps.filter((s) => s.held).at(-1);
    return {
      kind: "saturate",
      pairs: options.pairs,
      devicesPerUser: options.devicesPerUser,
      p99LimitMs: options.p99LimitMs,
      lastHeldRatePerSec: held?.offeredRatePerSec ?? 0,
      lastHeldDeliveredPerSec: held?.deliveredRatePerSec ?? 0,
      steps,
    };
  });
}
