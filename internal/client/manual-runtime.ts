import type { ClientRuntime } from "./runtime.ts";

/** A runtime whose time moves only when a test says so. */
export interface ManualRuntime extends ClientRuntime {
  /** Moves time forward, firing due timers in order and letting async work settle after each. */
  advance(ms: number): Promise<void>;
  /** Lets pending promise callbacks and I/O run without moving time. */
  settle(): Promise<void>;
}

/**
 * Test support: a clock and timers driven by `advance`, and a fixed or
 * scripted random source. Not exported from the SDK's index.
 */
export function createManualRuntime(opts: { startMs?: number; random?: () => number } = {}): ManualRuntime {
  let now = opts.startMs ?? 1_000_000;
  let nextId = 0;
  const timers = new Map<number, { atMs: number; fn: () => void }>();

  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  return {
    clock: { nowMs: () => now },
    random: opts.random ?? (() => 0.5),
    timers: {
      after(delayMs, fn) {
        const id = nextId++;
        timers.set(id, { atMs: now + Math.max(0, delayMs), fn });
        return () => timers.delete(id);
      },
    },
    settle,
    async advance(ms) {
      const until = now + ms;
      await settle();
      for (;;) {
        let due: [number, { atMs: number; fn: () => void }] | undefined;
        for (const entry of timers) if (entry[1].atMs <= until && (!due || entry[1].atMs < due[1].atMs)) due = entry;
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].atMs);
        due[1].fn();
        await settle();
      }
      now = until;
    },
  };
}
