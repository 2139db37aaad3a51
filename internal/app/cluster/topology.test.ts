import { afterAll, beforeAll, expect, test } from "bun:test";
import { describeWithBackends } from "../../testkit/index.ts";
import { assertChain, isMessage, isReceipt, messagesOf } from "../e2e/event-helpers.ts";
import { newDevice } from "../e2e/raw-device.ts";
import { startTestCluster, type TestCluster } from "./test-cluster.ts";

describeWithBackends("2 gateways + 2 workers as separate processes", ["kafka", "cassandra", "redis"], (backends) => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(backends, {
      gateways: 2,
      workers: 2,
      env: { PRESENCE_GRACE_MS: "300", PRESENCE_FANOUT_MS: "20" },
    });
  }, 90_000);
  afterAll(() => cluster?.destroy(), 60_000);

  test("users on different gateways chat: messages, receipts and presence cross gateways", async () => {
    const [g1, g2] = cluster.gateways;
    const alice = await newDevice(g1!.url, "topo_alice");
    const alice2 = await newDevice(g2!.url, "topo_alice", { register: false });
    const bob = await newDevice(g2!.url, "topo_bob");
    const conversationId = (await alice.chat.startConversation({ peer: { case: "peerUsername", value: "topo_bob" } }))
      .conversation!.conversationId;
    await Promise.all([alice.connect(), alice2.connect(), bob.connect()]);
    bob.send({ case: "watchPresence", value: { userIds: [alice.userId] } });
    await bob.waitFor((e) => e.event.case === "presence" && e.event.value.presences.some((p) => p.userId === alice.userId && p.online), 10_000);

    for (let i = 0; i < 20; i++) {
      const from = i % 2 === 0 ? alice : bob;
      from.send({ case: "send", value: { clientMsgId: crypto.randomUUID(), conversationId, text: `x-${i}` } });
    }
    // Two senders on two gateways: their log order interleaves, so wait for all 20.
    for (const d of [alice, alice2, bob]) {
      for (let i = 0; i < 20; i++) await d.waitFor(isMessage(`x-${i}`), 20_000);
    }
    const views = [alice, alice2, bob].map((d) => messagesOf(d.events, conversationId));
    for (const v of views) {
      assertChain(v);
      expect(v.map((m) => m.seq)).toEqual(views[0]!.map((m) => m.seq));
    }
    const last = views[0]!.at(-1)!.seq;
    bob.send({ case: "read", value: { conversationId, seq: last } });
    await alice.waitFor(isReceipt(bob.userId, (r) => r.readSeq === last), 20_000);
    await alice2.waitFor(isReceipt(bob.userId, (r) => r.readSeq === last), 20_000);

    // Presence crosses gateways: alice (both devices) leaves -> bob on g2 sees "last seen".
    const mark = bob.events.length;
    await alice.disconnect();
    await alice2.disconnect();
    await bob.waitFor(
      (e) => e.event.case === "presence" && e.event.value.presences.some((p) => p.userId === alice.userId && !p.online && p.lastSeenMs > 0n),
      20_000,
      mark,
    );
    await bob.disconnect();

    // The workers serve their metrics (the bench reads a message's stages there): they pushed those 20 messages.
    const counts = await Promise.all(
      cluster.workers.map(async (w) => {
        const text = await (await fetch(`${w.url}/metrics`)).text();
        return Number(/^chat_delivery_latency_seconds_count (\d+)$/m.exec(text)?.[1] ?? 0);
      }),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(20);
  }, 60_000);
});
