/** Settings of one open-loop run. */
export interface OpenLoopConfig {
  readonly ratePerSec: number;
  readonly durationMs: number;
  /** Start of the schedule, on the `nowUs` clock. */
  readonly startUs: number;
}

/** What drives the loop. */
export interface OpenLoopDeps {
  /** Monotonic clock in microseconds. */
  readonly nowUs: () => number;
  /** Issues operation `index`, due at `scheduledUs`; must not block. */
  readonly fire: (index: number, scheduledUs: number) => void;
  /** Ends the loop early. */
  readonly signal: AbortSignal;
}

/** How one open-loop run went. */
export interface OpenLoopResult {
  readonly issued: number;
  /** Largest delay between an operation's scheduled time and its issue: the generator's own lag. */
  readonly maxIssueLagUs: number;
}

/**
 * Issues `ratePerSec * durationMs` operations at fixed scheduled times,
 * whether or not earlier ones completed (an open loop). Operation k is due at
 * startUs + k / rate; after every timer wake-up all overdue operations go out
 * at once, each stamped with its own scheduled time, so a stall of the
 * generator or of the system under test shows up as latency instead of
 * silently lowering the offered rate (coordinated omission).
 */
export async function runOpenLoop(cfg: OpenLoopConfig, deps: OpenLoopDeps): Promise<OpenLoopResult> {
  const total = Math.max(0, Math.round((cfg.ratePerSec * cfg.durationMs) / 1000));
  const intervalUs = 1_000_000 / cfg.ratePerSec;
  const deadlineUs = cfg.startUs + cfg.durationMs * 1000 + 5_000_000;
  let issued = 0;
  let maxIssueLagUs = 0;
  // Bounded twice: by the operation count and by a deadline past the schedule's end.
  while (issued < total && !deps.signal.aborted) {
    const now = deps.nowUs();
    if (now > deadlineUs) break;
    const due = Math.min(total, Math.floor((now - cfg.startUs) / intervalUs) + 1);
    for (; issued < due; issued++) {
      const scheduledUs = cfg.startUs + issued * intervalUs;
      maxIssueLagUs = Math.max(maxIssueLagUs, now - scheduledUs);
      deps.fire(issued, scheduledUs);
    }
    if (issued >= total) break;
    const nextUs = cfg.startUs + issued * intervalUs;
    // Sleep to the next due time; sends issued in the same tick share it.
    await Bun.sleep(Math.max(1, Math.min(50, Math.floor((nextUs - deps.nowUs()) / 1000))));
  }
  return { issued, maxIssueLagUs };
}

/** The bench's monotonic clock in microseconds. */
export const monotonicUs = (): number => performance.now() * 1000;
