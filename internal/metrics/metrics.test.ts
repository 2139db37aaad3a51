import { afterAll, beforeAll, expect, test } from "bun:test";
import { startEmbeddedServer, type RunningServer } from "../app/index.ts";
import { isMessage } from "../app/e2e/event-helpers.ts";
import { newDevice } from "../app/e2e/raw-device.ts";

let server: RunningServer;
beforeAll(async () => {
  server = await startEmbeddedServer();
});
afterAll(() => server.destroy());

const value = (text: string, line: RegExp): number => Number(text.split("\n").find((l) => line.test(l))?.split(" ").at(-1) ?? NaN);

test("/metrics exposes delivery, log, store, stream and refusal metrics that move with traffic", async () => {
  const alice = await newDevice(server.url, "mt_alice");
  const bob = await newDevice(server.url, "mt_bob");
  const conversationId = (await alice.chat.startConversation({ peer: { case: "peerUsername", value: "mt_bob" } })).conversation!
    .conversationId;
  await bob.connect();
  await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: "counted" });
  await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: "" }).catch(() => undefined);
  await bob.waitFor(isMessage("counted"));
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(value(text, /^chat_commands_total\{kind="send"\}/)).toBe(1);
  expect(value(text, /^chat_refusals_total\{reason="BODY_EMPTY"\}/)).toBe(1);
  expect(value(text, /^chat_open_streams /)).toBe(1);
  expect(value(text, /^chat_delivery_latency_seconds_count /)).toBe(1);
  expect(value(text, /^chat_log_append_seconds_count /)).toBe(1);
  expect(value(text, /^chat_store_write_seconds_count\{op="append_message"\}/)).toBe(1);
  expect(value(text, /^chat_push_deliveries_total /)).toBeGreaterThanOrEqual(1);
  expect(text).toContain("chat_consumer_lag_seconds{partition=");
  expect(text).toContain("chat_process_resident_memory_bytes");
  await bob.disconnect();
});
