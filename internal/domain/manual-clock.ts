import type { Clock } from "./clock.ts";

/** A clock that moves only when told to: tests use it to cross TTLs without sleeping. */
export interface ManualClock extends Clock {
  /** Moves time forward; a negative step is refused because no adapter expects time to run backwards. */
  advance(ms: number): void;
}

/** Creates a {@link ManualClock} reading `startMs` until advanced. */
export function createManualClock(startMs: number): ManualClock {
  let nowMs = startMs;
  return {
    nowMs: () => nowMs,
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot advance a clock by ${ms} ms`);
      nowMs += ms;
    },
  };
}
