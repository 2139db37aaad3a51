/**
 * Time, timers and randomness for the SDK, injected so tests control them
 * (reconnect jitter, heartbeats, ack batching) without patching globals.
 */

/** Wall clock in milliseconds since the epoch. */
export interface Clock {
  nowMs(): number;
}

/** One-shot timers; `after` returns a function that cancels the timer. */
export interface Timers {
  after(delayMs: number, fn: () => void): () => void;
}

/** Everything time- or chance-dependent the SDK uses. */
export interface ClientRuntime {
  readonly clock: Clock;
  readonly timers: Timers;
  /** Uniform in [0, 1), like Math.random. */
  readonly random: () => number;
}

/** The real clock, global timers and Math.random. */
export const systemRuntime: ClientRuntime = {
  clock: { nowMs: () => Date.now() },
  timers: {
    after(delayMs, fn) {
      const handle = setTimeout(fn, delayMs);
      return () => clearTimeout(handle);
    },
  },
  random: () => Math.random(),
};

/**
 * Resolves after `delayMs`, or as soon as `signal` aborts (it never rejects:
 * callers check `signal.aborted` themselves, which keeps shutdown paths free
 * of exception handling).
 */
export function sleep(timers: Timers, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      cancel();
      resolve();
    };
    const cancel = timers.after(delayMs, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
