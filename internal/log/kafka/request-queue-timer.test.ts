import { describe, expect, test } from "bun:test";
import { createRequire } from "node:module";
import { installRequestQueueTimerFix } from "./request-queue-timer.ts";

interface Queue {
  throttleCheckTimeoutId: unknown;
  pending: unknown[];
  inflight: Map<number, unknown>;
  maybeThrottle(ms: number): void;
  checkPendingRequests(): void;
  sendSocketRequest(request: unknown): void;
  destroy(): void;
}

const RequestQueue = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js") as new (options: object) => Queue;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function queue(maxInFlightRequests: number | null = null): Queue {
  installRequestQueueTimerFix();
  return new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: "t", broker: "b", logger: silent });
}

describe("kafkajs request queue timer", () => {
  test("a queue with nothing waiting arms no timer (kafkajs 2.2.4 re-armed a 1 ms one for good)", () => {
    const q = queue();
    q.checkPendingRequests(); // what every fulfilled request does
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.maybeThrottle(50);
    q.checkPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  test("a request held back by the broker's throttle goes out when the throttle ends, and the timer stops", async () => {
    const q = queue();
    const sent: unknown[] = [];
    q.sendSocketRequest = (request) => void sent.push(request);
    q.maybeThrottle(30);
    q.pending.push("produce");
    q.checkPendingRequests();
    expect(sent).toEqual([]);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    const deadline = Date.now() + 2_000;
    while (sent.length === 0 && Date.now() < deadline) await Bun.sleep(5);
    expect(sent).toEqual(["produce"]);
    expect(q.throttleCheckTimeoutId).toBeNull();
    q.destroy();
  });

  test("a request over the in-flight limit is retried every 10 ms until a slot frees", async () => {
    const q = queue(1);
    const sent: unknown[] = [];
    q.sendSocketRequest = (request) => void sent.push(request);
    q.inflight.set(1, "in flight");
    q.pending.push("next");
    q.checkPendingRequests();
    await Bun.sleep(35);
    expect(sent).toEqual([]);
    expect(q.throttleCheckTimeoutId).not.toBeNull(); // still checking
    q.inflight.clear();
    const deadline = Date.now() + 2_000;
    while (sent.length === 0 && Date.now() < deadline) await Bun.sleep(5);
    expect(sent).toEqual(["next"]);
    q.destroy();
  });
});
