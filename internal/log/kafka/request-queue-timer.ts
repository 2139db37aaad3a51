import { createRequire } from "node:module";

/*
 * kafkajs 2.2.4 re-arms a timer on every broker connection for as long as the
 * connection lives: RequestQueue.scheduleCheckPendingRequests computes
 * `throttledUntil - Date.now()` (a large negative number while nothing is
 * throttled, throttledUntil being -1), passes it to setTimeout, which clamps it
 * to 1 ms, and the timer's callback schedules the next one. Every connection
 * thus wakes its process about a thousand times a second, idle or not, and
 * runtimes that warn about negative delays print a TimeoutNegativeWarning.
 * Upstream: tulios/kafkajs#1751 (open; fixes proposed in #1755 and #1756).
 *
 * The timer only has a job while requests wait in the queue (throttled by the
 * broker, or over the in-flight limit): `push` schedules a check when it
 * queues one and every fulfilled request checks the queue. The replacement
 * below arms it only then: at the end of the throttle, or after kafkajs' own
 * 10 ms interval otherwise.
 */

/** kafkajs' CHECK_PENDING_REQUESTS_INTERVAL. */
const CHECK_PENDING_MS = 10;

interface RequestQueueInternals {
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  throttledUntil: number;
  pending: unknown[];
  checkPendingRequests(): void;
}

let installed = false;

/** Replaces RequestQueue.prototype.scheduleCheckPendingRequests once per process. */
export function installRequestQueueTimerFix(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as { prototype: RequestQueueInternals & { scheduleCheckPendingRequests(): void } };
  // Only over the code this was written against: a kafkajs that changed the method is left alone
  // (the tests then fail, as the timer is armed again).
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  if (typeof original !== "function" || !String(original).includes("this.throttledUntil - Date.now()")) return;
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const throttledForMs = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttledForMs > 0 ? throttledForMs : CHECK_PENDING_MS,
    );
  };
}
