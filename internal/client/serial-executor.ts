/**
 * Runs async tasks one at a time in submission order. The chat client puts
 * every change of local state through one executor, so a storage write and
 * the memory update that follows it are never interleaved with another
 * change (stream events, gap fills and user actions all mutate the same
 * conversations). A task must not wait for another task of the same executor.
 */
export interface SerialExecutor {
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** Creates an idle executor. */
export function createSerialExecutor(): SerialExecutor {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run(task) {
      const result = tail.then(task);
      // A failed task fails its caller only; the next task still runs.
      tail = result.catch(() => undefined);
      return result;
    },
  };
}
