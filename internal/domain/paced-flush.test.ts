import { expect, test } from "bun:test";
import { createPacedFlush } from "./paced-flush.ts";

/** A paced flush whose runs are recorded, with `soon` = queueMicrotask. */
function recorded(minIntervalMs: number) {
  const runs: number[] = [];
  const paced = createPacedFlush(() => runs.push(performance.now()), { minIntervalMs, soon: queueMicrotask });
  return { runs, paced };
}

test("on an idle flush a request runs at the next microtask, and requests made before it share the run", async () => {
  const { runs, paced } = recorded(10_000);
  paced.request();
  paced.request();
  expect(runs).toHaveLength(0);
  await Promise.resolve();
  expect(runs).toHaveLength(1);
});

test("a request within the interval waits for it to pass, and the requests meanwhile join that one run", async () => {
  const { runs, paced } = recorded(60);
  paced.request();
  await Promise.resolve();
  expect(runs).toHaveLength(1);
  paced.request();
  await Bun.sleep(10);
  paced.request();
  expect(runs).toHaveLength(1);
  await Bun.sleep(150);
  expect(runs).toHaveLength(2);
  // Timers may fire a little early by the clock we read; 50 of the 60 ms is a safe lower bound.
  expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(50);
});

test("with interval 0 every request after a run runs at the next microtask again", async () => {
  const { runs, paced } = recorded(0);
  for (let i = 1; i <= 3; i++) {
    paced.request();
    await Promise.resolve();
    expect(runs).toHaveLength(i);
  }
});

test("runNow runs a waiting request at once and cancels its timer; with nothing pending it does nothing", async () => {
  const { runs, paced } = recorded(60);
  paced.runNow();
  expect(runs).toHaveLength(0);
  paced.request();
  await Promise.resolve();
  paced.request();
  paced.runNow();
  expect(runs).toHaveLength(2);
  await Bun.sleep(150);
  expect(runs).toHaveLength(2);
});
