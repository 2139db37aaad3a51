import { ConnectError } from "@connectrpc/connect";
import { createBackoff, type BackoffConfig } from "./backoff.ts";
import { isRefusalError } from "./errors.ts";
import { sleep, type ClientRuntime } from "./runtime.ts";

/** A unary call to make, and what to do if the server refuses it for good. */
export interface LaneTask {
  run(signal: AbortSignal): Promise<void>;
  refused(error: ConnectError): void;
}

/**
 * Runs unary calls one at a time, in push order, retrying transient failures
 * (unavailable, rate limited, ...) with full-jitter backoff until they succeed
 * or the lane's signal aborts. Order matters for sends: a message is never
 * attempted before the one enqueued ahead of it has been accepted or refused.
 */
export interface RetryLane {
  push(task: LaneTask): void;
}

/** Creates an idle lane bound to `deps.signal`. */
export function createRetryLane(
  cfg: { readonly backoff: BackoffConfig },
  deps: { readonly runtime: ClientRuntime; readonly signal: AbortSignal },
): RetryLane {
  const tasks: LaneTask[] = [];
  const backoff = createBackoff(cfg.backoff, deps.runtime);
  let running = false;

  const drain = async (): Promise<void> => {
    running = true;
    try {
      while (!deps.signal.aborted) {
        const task = tasks[0];
        if (!task) return;
        try {
          await task.run(deps.signal);
          tasks.shift();
          backoff.reset();
        } catch (err) {
          if (deps.signal.aborted) return;
          if (isRefusalError(err)) {
            tasks.shift();
            task.refused(ConnectError.from(err));
          } else {
            await sleep(deps.runtime.timers, backoff.nextDelayMs(), deps.signal);
          }
        }
      }
    } finally {
      running = false;
    }
  };

  return {
    push(task) {
      if (deps.signal.aborted) return;
      tasks.push(task);
      if (!running) void drain();
    },
  };
}
