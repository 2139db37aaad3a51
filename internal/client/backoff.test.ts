import { describe, expect, test } from "bun:test";
import { createBackoff } from "./backoff.ts";

/** A deterministic uniform source (LCG), so the distribution checks never flake. */
const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
};

describe("full-jitter backoff", () => {
  test.each([
    { attempt: 0, ceiling: 100 },
    { attempt: 1, ceiling: 200 },
    { attempt: 3, ceiling: 800 },
    { attempt: 6, ceiling: 5_000 },
    { attempt: 60, ceiling: 5_000 },
  ])("attempt $attempt waits within [0, $ceiling) and spreads over that window", ({ attempt, ceiling }) => {
    const samples: number[] = [];
    for (let run = 0; run < 400; run++) {
      const backoff = createBackoff({ baseMs: 100, maxMs: 5_000 }, { random: seededRandom(run * 7919 + 1) });
      for (let i = 0; i < attempt; i++) backoff.nextDelayMs();
      samples.push(backoff.nextDelayMs());
    }
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(ceiling);
    // Full jitter: the low and high quarters of the window are both used.
    expect(samples.some((s) => s < ceiling / 4)).toBe(true);
    expect(samples.some((s) => s >= (ceiling * 3) / 4)).toBe(true);
  });

  test.each([
    { random: 0, want: 0 },
    { random: 0.5, want: 400 },
    { random: 0.999999, want: 799 },
  ])("maps random $random at attempt 3 of base 100 to $want ms", ({ random, want }) => {
    const backoff = createBackoff({ baseMs: 100, maxMs: 10_000 }, { random: () => random });
    for (let i = 0; i < 3; i++) backoff.nextDelayMs();
    expect(backoff.nextDelayMs()).toBe(want);
  });

  test("reset returns to the first attempt's window", () => {
    const backoff = createBackoff({ baseMs: 100, maxMs: 10_000 }, { random: () => 0.999 });
    for (let i = 0; i < 5; i++) backoff.nextDelayMs();
    expect(backoff.attempts).toBe(5);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.nextDelayMs()).toBeLessThan(100);
  });

  test.each([
    { baseMs: 0, maxMs: 100 },
    { baseMs: 100, maxMs: 50 },
    { baseMs: Number.NaN, maxMs: 100 },
  ])("refuses bounds base $baseMs max $maxMs", (cfg) => {
    expect(() => createBackoff(cfg, { random: Math.random })).toThrow(RangeError);
  });
});
