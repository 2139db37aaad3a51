import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTcpProxy, type TcpProxy } from "../../faults/index.ts";
import { asConversationId, asDeviceId, asUserId } from "../../domain/index.ts";
import { textOf } from "./event-helpers.ts";
import { newDevice } from "./raw-device.ts";
import { openSdkDevice, SDK_PASSWORD } from "./sdk-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

const texts = (d: { client: { messages(id: string): { text: string }[] } }, id: string) => d.client.messages(id).map((m) => m.text);

describeEachMode("offline and restart", (mode) => {
  const server = useTestServer(mode);
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startTcpProxy({ host: "127.0.0.1", port: server().port });
  });
  afterAll(() => proxy?.close());

  test.each(["bidi", "subscribe"] as const)(
    "offline compose (%s): 20 messages queued with the network cut are delivered once each, in order, when it returns",
    async (receive) => {
      const alice = await openSdkDevice(proxy.url, `oc_alice_${receive}`, receive);
      const bob = await openSdkDevice(server().url, `oc_bob_${receive}`);
      const { conversationId } = await alice.client.startConversation({ username: `oc_bob_${receive}` });
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

  // Restarts the shared server in place (same data, same ports): keep it last.
  test("server restart: messages, watermarks and cursors survive; clients reconnect by themselves and continue", async () => {
    const { url } = server();
    const alice = await openSdkDevice(url, "rs_alice");
    const bob = await openSdkDevice(url, "rs_bob", "subscribe");
    try {
      const { conversationId } = await alice.client.startConversation({ username: "rs_bob" });
      for (const t of ["one", "two", "three"]) await alice.client.send(conversationId, t);
      await bob.client.waitFor(() => texts(bob, conversationId).length === 3, 5_000);
      const seqs = bob.client.messages(conversationId).map((m) => m.seq!);
      await bob.client.markRead(conversationId, seqs[1]);
      await alice.client.waitFor(() => alice.client.receipts(conversationId).peer?.readSeq === seqs[1], 5_000);
      await alice.client.waitFor(() => alice.client.receipts(conversationId).peer?.deliveredSeq === seqs[2], 5_000);

      // Embedded: one process; distributed: the gateway and worker processes (Kafka, Cassandra and Redis stay up).
      await server().restart(async () => {
        // What the server holds in its store (SQLite file or Cassandra keyspace) with every process stopped.
        const store = await server().openStore();
        try {
          expect((await store.messagesAfter(asConversationId(conversationId), 0, 10)).map((m) => m.text)).toEqual(["one", "two", "three"]);
          expect((await store.getWatermarks(asConversationId(conversationId))).get(asUserId(bob.userId))?.readSeq).toBe(seqs[1]);
          expect((await store.getDeviceCursors(asDeviceId(bob.deviceId))).get(asConversationId(conversationId))).toBe(seqs[2]);
        } finally {
          await store.close();
        }
      });

      // The same through the API of the restarted server, from a device new to it.
      const probe = await newDevice(url, "rs_bob", { register: false, password: SDK_PASSWORD });
      const history = await probe.chat.getHistory({ conversationId, forward: true, afterSeq: 0n, limit: 10 });
      expect(history.messages.map(textOf)).toEqual(["one", "two", "three"]);
      const listed = (await probe.chat.listConversations({})).conversations.find((c) => c.conversationId === conversationId)!;
      expect(listed.ownReceipt).toMatchObject({ deliveredSeq: BigInt(seqs[2]!), readSeq: BigInt(seqs[1]!) });
      expect(listed.unreadCount).toBe(1n);

      // A restarted worker may still be joining its consumer group: bounded waits, no timing assertion.
      await alice.client.waitFor(() => alice.client.connectionState() === "live", 15_000);
      await bob.client.waitFor(() => bob.client.connectionState() === "live", 15_000);
      await alice.client.send(conversationId, "four");
      await bob.client.waitFor(() => texts(bob, conversationId).length === 4, 20_000);
      expect(texts(bob, conversationId)).toEqual(["one", "two", "three", "four"]);
      const list = await bob.client.refreshConversations();
      expect(list.find((c) => c.conversationId === conversationId)?.unreadCount).toBe(2);
      await bob.client.markRead(conversationId);
      await alice.client.waitFor(() => alice.client.messages(conversationId).every((m) => m.tick === "read"), 10_000);
    } finally {
      await Promise.all([alice.stop(), bob.stop()]);
    }
  }, 90_000);
});
