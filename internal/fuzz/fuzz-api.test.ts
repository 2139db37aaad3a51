import { afterAll, beforeAll, expect, test } from "bun:test";
import { startEmbeddedServer, type RunningServer } from "../app/index.ts";
import { newDevice } from "../app/e2e/raw-device.ts";
import { openSdkDevice } from "../app/e2e/sdk-device.ts";
import { fuzzApi } from "./fuzz-api.ts";
import { MUTATION_KINDS, mutate } from "./wire-mutations.ts";

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let server: RunningServer;
beforeAll(async () => {
  // Generous limits for the fuzzer's device: refusals must come from validation, not the rate limiter.
  server = await startEmbeddedServer({ gateway: { sendRatePerSec: 100_000, sendBurst: 100_000 } });
});
afterAll(() => server.destroy());

test.each(MUTATION_KINDS)("mutation %s is deterministic for a seed", (kind) => {
  const valid = Uint8Array.of(0x0a, 0x02, 0x41, 0x42);
  expect(mutate(kind, prng(7), valid, valid)).toEqual(mutate(kind, prng(7), valid, valid));
});

test("10,000 hostile payloads at every RPC: each refused with a client error code, nothing stored, other clients unaffected", async () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261128);
  const fuzzer = await newDevice(server.url, "fuzzer");
  const alice = await openSdkDevice(server.url, "fz_alice");
  const bob = await openSdkDevice(server.url, "fz_bob");
  const { conversationId } = await alice.client.startConversation({ username: "fz_bob" });

  // Legitimate traffic all along.
  let sent = 0;
  let stop = false;
  const latencies: number[] = [];
  const chatter = (async () => {
    while (!stop && sent < 200) {
      const t0 = performance.now();
      const text = `legit-${sent++}`;
      await alice.client.send(conversationId, text);
      await bob.client.waitFor(() => bob.client.messages(conversationId).some((m) => m.text === text), 10_000);
      latencies.push(performance.now() - t0);
      await Bun.sleep(20);
    }
  })();

  const report = await fuzzApi({ url: server.url, token: fuzzer.token, count: 10_000, random: prng(seed) });
  stop = true;
  await chatter;

  const distinct = [...new Set(report.violations.map((v) => `${v.method}/${v.protocol}/${v.kind}: ${v.code} ${v.message}`))];
  expect(distinct.slice(0, 20)).toEqual([]);
  expect(Object.values(report.codes).reduce((a, b) => a + b, 0)).toBe(10_000);
  // The server is up and the fuzzer's account holds nothing.
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  expect((await fuzzer.chat.listConversations({})).conversations).toEqual([]);
  // The legitimate pair got every message, in order, once.
  const texts = bob.client.messages(conversationId).map((m) => m.text);
  expect(texts).toEqual(Array.from({ length: sent }, (_, i) => `legit-${i}`));
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `fuzz seed=${seed} sent=${report.sent} codes=${JSON.stringify(report.codes)} legit=${sent} ` +
      `legit_p50_ms=${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} legit_max_ms=${sorted.at(-1)?.toFixed(1)}`,
  );
  await Promise.all([alice.stop(), bob.stop()]);
}, 120_000);
