import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startTcpProxy, type TcpProxy } from "../../faults/index.ts";
import { asConversationId, asDeviceId, asUserId } from "../../domain/index.ts";
import { createSqliteStore } from "../../store/sqlite/index.ts";
import { startEmbeddedServer, type RunningServer } from "../index.ts";
import { openSdkDevice } from "./sdk-device.ts";

let server: RunningServer;
let proxy: TcpProxy;
beforeAll(async () => {
  server = await startEmbeddedServer();
  proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
});
afterAll(async () => {
  await proxy.close();
  await server.destroy();
});

const texts = (d: { client: { messages(id: string): { text: string }[] } }, id: string) => d.client.messages(id).map((m) => m.text);

test.each(["bidi", "subscribe"] as const)(
  "offline compose (%s): 20 messages queued with the network cut are delivered once each, in order, when it returns",
  async (mode) => {
    const alice = await openSdkDevice(proxy.url, `oc_alice_${mode}`, mode);
    const bob = await openSdkDevice(server.url, `oc_bob_${mode}`);
    const { conversationId } = await alice.client.startConversation({ username: `oc_bob_${mode}` });
    await alice.client.waitFor(() => alice.client.connectionState() === "live", 5_000);

    proxy.setMode("down"); // airplane mode: connections reset, new ones refused
    await alice.client.waitFor(() => alice.client.connectionState() !== "live", 5_000);
    const sent = Array.from({ length: 20 }, (_, i) => `offline-${i}`);
    for (const t of sent) await alice.client.send(conversationId, t);
    expect(alice.client.messages(conversationId).every((m) => m.tick === "pending")).toBe(true);
    await Bun.sleep(300); // retries fail meanwhile
    expect(texts(bob, conversationId)).toEqual([]);

    proxy.setMode("pass");
    await bob.client.waitFor(() => texts(bob, conversationId).length >= 20, 15_000);
    await Bun.sleep(200); // anything extra (a duplicate) would show up now
    expect(texts(bob, conversationId)).toEqual(sent);
    await alice.client.waitFor(() => alice.client.messages(conversationId).every((m) => m.tick !== "pending"), 5_000);
    expect(texts(alice, conversationId)).toEqual(sent);
    await Promise.all([alice.stop(), bob.stop()]);
  },
  30_000,
);

test("server restart: messages, watermarks and cursors survive; clients reconnect by themselves and continue", async () => {
  const own = await startEmbeddedServer();
  const alice = await openSdkDevice(own.url, "rs_alice");
  const bob = await openSdkDevice(own.url, "rs_bob", "subscribe");
  const { conversationId } = await alice.client.startConversation({ username: "rs_bob" });
  for (const t of ["one", "two", "three"]) await alice.client.send(conversationId, t);
  await bob.client.waitFor(() => texts(bob, conversationId).length === 3, 5_000);
  const seqs = bob.client.messages(conversationId).map((m) => m.seq!);
  await bob.client.markRead(conversationId, seqs[1]);
  await alice.client.waitFor(() => alice.client.receipts(conversationId).peer?.readSeq === seqs[1], 5_000);
  await alice.client.waitFor(() => alice.client.receipts(conversationId).peer?.deliveredSeq === seqs[2], 5_000);

  await own.stop();
  // What the server holds on disk right after the stop.
  const store = createSqliteStore({ path: join(own.config.dataDir, "store.db") });
  expect((await store.messagesAfter(asConversationId(conversationId), 0, 10)).map((m) => m.text)).toEqual(["one", "two", "three"]);
  expect((await store.getWatermarks(asConversationId(conversationId))).get(asUserId(bob.userId))?.readSeq).toBe(seqs[1]);
  expect((await store.getDeviceCursors(asDeviceId(bob.deviceId))).get(asConversationId(conversationId))).toBe(seqs[2]);
  await store.close();

  const again = await startEmbeddedServer({ dataDir: own.config.dataDir, port: own.port });
  try {
    await alice.client.waitFor(() => alice.client.connectionState() === "live", 15_000);
    await bob.client.waitFor(() => bob.client.connectionState() === "live", 15_000);
    await alice.client.send(conversationId, "four");
    await bob.client.waitFor(() => texts(bob, conversationId).length === 4, 5_000);
    expect(texts(bob, conversationId)).toEqual(["one", "two", "three", "four"]);
    const list = await bob.client.refreshConversations();
    expect(list.find((c) => c.conversationId === conversationId)?.unreadCount).toBe(2);
    await bob.client.markRead(conversationId);
    await alice.client.waitFor(() => alice.client.messages(conversationId).every((m) => m.tick === "read"), 5_000);
  } finally {
    await Promise.all([alice.stop(), bob.stop()]);
    await again.destroy();
  }
}, 60_000);
