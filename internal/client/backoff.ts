/** Bounds of an exponential backoff. */
export interface BackoffConfig {
  /** Upper bound of the first delay. */
  readonly baseMs: number;
  /** Upper bound of every delay. */
  readonly maxMs: number;
}

/** Default reconnect bounds: first retry within 250 ms, never more than 30 s apart. */
export const defaultBackoff: BackoffConfig = { baseMs: 250, maxMs: 30_000 };

/**
 * Exponential backoff with full jitter: attempt n waits a uniformly random
 * delay in [0, min(maxMs, baseMs * 2^n)). Full jitter (rather than a fixed
 * exponential delay plus a little noise) spreads a crowd of clients that lost
 * the same gateway over the whole window, so they do not return in waves.
 */
export interface Backoff {
  /** The delay before the next attempt; each call counts one attempt. */
  nextDelayMs(): number;
  /** Back to the first attempt, after a connection proved healthy. */
  reset(): void;
  /** Attempts counted since the last reset. */
  readonly attempts: number;
}

/** Creates a full-jitter backoff drawing from `deps.random` (uniform in [0, 1)). */
export function createBackoff(cfg: BackoffConfig, deps: { random: () => number }): Backoff {
  if (!(cfg.baseMs > 0) || !(cfg.maxMs >= cfg.baseMs)) {
    throw new RangeError(`invalid backoff bounds: base ${cfg.baseMs} ms, max ${cfg.maxMs} ms`);
  }
  // Past this exponent base * 2^n exceeds any sane max; capping it keeps the
  // arithmetic finite however long a client stays offline.
  const maxExponent = Math.ceil(Math.log2(cfg.maxMs / cfg.baseMs)) + 1;
  let attempts = 0;
  return {
    nextDelayMs() {
      const ceilingMs = Math.min(cfg.maxMs, cfg.baseMs * 2 ** Math.min(attempts, maxExponent));
      attempts += 1;
      return Math.floor(deps.random() * ceilingMs);
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
