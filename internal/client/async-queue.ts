/**
 * A single-consumer queue read with `for await` in chunks: the request side
 * of a bidirectional stream, fed by synchronous pushes from the SDK. Each
 * chunk is everything queued when the consumer woke, so the consumer can
 * send several items as one.
 */
export interface AsyncQueue<T> {
  /** Appends an item; `false` (and dropped) once the queue is closed. */
  push(item: T): boolean;
  /** Everything queued at each wake-up, as one array, in push order. */
  chunks(): AsyncIterable<T[]>;
  /** Ends iteration after the items already queued. */
  close(): void;
  readonly closed: boolean;
}

/** Creates an empty open queue. */
export function createAsyncQueue<T>(): AsyncQueue<T> {
  const items: T[] = [];
  let closed = false;
  let wake: (() => void) | undefined;

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  return {
    push(item) {
      if (closed) return false;
      items.push(item);
      notify();
      return true;
    },
    close() {
      closed = true;
      notify();
    },
    get closed() {
      return closed;
    },
    async *chunks() {
      for (;;) {
        if (items.length > 0) {
          yield items.splice(0);
          continue;
        }
        if (closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
