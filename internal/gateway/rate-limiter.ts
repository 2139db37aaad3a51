import type { Clock } from "../domain/index.ts";

/**
 * Token buckets per key (device). `take` refills by elapsed time and spends
 * one token; the map is pruned of full buckets so idle devices cost nothing.
 */
export interface RateLimiter {
  take(key: string): boolean;
}

export function createRateLimiter(cfg: { ratePerSec: number; burst: number }, deps: { clock: Clock }): RateLimiter {
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  const PRUNE_AT = 100_000;
  return {
    take(key) {
      const now = deps.clock.nowMs();
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= PRUNE_AT) prune(now);
        b = { tokens: cfg.burst, atMs: now };
        buckets.set(key, b);
      }
      b.tokens = Math.min(cfg.burst, b.tokens + ((now - b.atMs) * cfg.ratePerSec) / 1000);
      b.atMs = now;
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
  };

  function prune(now: number) {
    for (const [k, b] of buckets) {
      if (b.tokens + ((now - b.atMs) * cfg.ratePerSec) / 1000 >= cfg.burst) buckets.delete(k);
    }
  }
}
