/** Entries checked together by one interval timer. */
export interface Sweep<K, V> {
  /** Adds (or replaces) an entry; starts the timer if it was stopped. */
  set(key: K, value: V): void;
  delete(key: K): void;
}

/**
 * One timer for many entries instead of a timer each (a gateway holds 10^5
 * streams): every `periodMs` it calls `visit` on each entry and drops those
 * for which it returns true. The timer starts with the first entry and stops
 * once none is left, so an idle process keeps none.
 */
export function createSweep<K, V>(periodMs: number, visit: (key: K, value: V, nowMs: number) => boolean): Sweep<K, V> {
  const entries = new Map<K, V>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const run = (): void => {
    const now = Date.now();
    for (const [key, value] of entries) if (visit(key, value, now)) entries.delete(key);
    if (entries.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    set(key, value) {
      entries.set(key, value);
      timer ??= setInterval(run, periodMs);
    },
    delete(key) {
      entries.delete(key);
    },
  };
}
