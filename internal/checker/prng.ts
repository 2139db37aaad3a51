/**
 * A seeded pseudo-random generator, so a checker run's choices (who sends,
 * which fault hits which device, for how long) repeat for the same seed.
 * Timing still varies between runs: the seed fixes the script, not the
 * interleaving.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
  /** Integer uniform in [min, max]. */
  between(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element; throws on an empty list. */
  pick<T>(items: readonly T[]): T;
  /** An independent generator derived from this one (one per concern keeps streams stable). */
  fork(): Prng;
}

/** Creates a generator (mulberry32: 32-bit state, good enough for test scripts). */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error("pick from an empty list");
      return items[int(items.length)] as T;
    },
    fork: () => createPrng(Math.floor(next() * 4_294_967_296)),
  };
}
