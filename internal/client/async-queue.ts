/**
 * A single-consumer queue read with `for await`: the request side of a
 * bidirectional stream, fed by synchronous pushes from the SDK.
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  /** Appends an item; `false` (and dropped) once the queue is closed. */
  push(item: T): boolean;
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
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (items.length > 0) {
          yield items.shift() as T;
          continue;
        }
        if (closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
