/**
 * A counting semaphore: at most `limit` holders at once, the rest wait in
 * arrival order. Used to bound work that fans out to the store.
 */
export interface Slots {
  /** Resolves with a release function once a slot is free. */
  acquire(): Promise<() => void>;
  /** Holders now, and callers waiting for a slot. */
  readonly inUse: number;
  readonly waiting: number;
}

export function createSlots(limit: number): Slots {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`slots: limit must be a positive integer, got ${limit}`);
  let inUse = 0;
  const queue: (() => void)[] = [];

  const release = (): void => {
    const next = queue.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else inUse--;
  };
  const releaser = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  };

  return {
    acquire() {
      if (inUse < limit) {
        inUse++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve) => queue.push(() => resolve(releaser())));
    },
    get inUse() {
      return inUse;
    },
    get waiting() {
      return queue.length;
    },
  };
}
