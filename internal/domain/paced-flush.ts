/** A flush that runs soon after it is requested, but never more often than its interval allows. */
export interface PacedFlush {
  /** Asks for a run; requests made before that run share it. */
  request(): void;
  /** Runs now if a run is pending (used by close, so nothing queued is left behind). */
  runNow(): void;
}

/**
 * Paces a group commit. When the last run is at least `minIntervalMs` old,
 * a request runs `flush` at the next `soon` (a microtask or setImmediate: a
 * lone write on an idle process waits for no clock). Otherwise it runs when
 * the interval has passed, and everything requested meanwhile joins it.
 *
 * Under load this turns many tiny commits into fewer, larger ones: a SQLite
 * commit writes every page it dirtied to the WAL, and the hot pages (a
 * partition's newest log page, a conversation's list entry) are dirtied by
 * nearly every write, so a commit of ten writes costs about what a commit of
 * one does. The price is at most `minIntervalMs` of extra wait per commit,
 * paid only by writes that arrive within that time of the previous commit.
 */
export function createPacedFlush(
  flush: () => void,
  cfg: { readonly minIntervalMs: number; readonly soon: (run: () => void) => void },
): PacedFlush {
  let pending = false;
  let lastRunMs = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const run = (): void => {
    if (!pending) return;
    pending = false;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    lastRunMs = performance.now();
    flush();
  };

  return {
    request() {
      if (pending) return;
      pending = true;
      const waitMs = lastRunMs + cfg.minIntervalMs - performance.now();
      if (waitMs <= 0) cfg.soon(run);
      else timer = setTimeout(run, waitMs);
    },
    runNow: run,
  };
}
