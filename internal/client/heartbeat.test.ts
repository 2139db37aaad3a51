import { describe, expect, test } from "bun:test";
import { startHeartbeat } from "./heartbeat.ts";
import { createManualRuntime } from "./manual-runtime.ts";

describe("heartbeat", () => {
  test("pings once per interval while the server keeps talking", async () => {
    const runtime = createManualRuntime();
    const pings: number[] = [];
    let dead = false;
    const hb = startHeartbeat({ intervalMs: 1_000 }, { runtime, ping: (n) => pings.push(n), onDead: () => (dead = true) });
    for (let i = 0; i < 5; i++) {
      await runtime.advance(1_000);
      hb.traffic();
    }
    expect(pings).toEqual([1, 2, 3, 4, 5]);
    expect(dead).toBe(false);
    hb.stop();
  });

  test.each([
    { name: "with pings (bidi)", withPing: true },
    { name: "without pings (subscribe)", withPing: false },
  ])("declares the stream dead after 3 silent intervals, $name", async ({ withPing }) => {
    const runtime = createManualRuntime();
    let dead = 0;
    const hb = startHeartbeat(
      { intervalMs: 1_000 },
      { runtime, ...(withPing ? { ping: () => undefined } : {}), onDead: () => dead++ },
    );
    await runtime.advance(2_000);
    expect(dead).toBe(0);
    await runtime.advance(1_000);
    expect(dead).toBe(1);
    await runtime.advance(10_000);
    expect(dead).toBe(1);
    hb.stop();
  });

  test("traffic postpones death, and stop cancels it", async () => {
    const runtime = createManualRuntime();
    let dead = false;
    const hb = startHeartbeat({ intervalMs: 1_000 }, { runtime, onDead: () => (dead = true) });
    await runtime.advance(2_500);
    hb.traffic();
    await runtime.advance(2_000);
    expect(dead).toBe(false);
    hb.stop();
    await runtime.advance(10_000);
    expect(dead).toBe(false);
  });
});
