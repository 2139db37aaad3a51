import { expect, test } from "bun:test";
import { assertChain, isMessage, isReceipt, messagesOf, textOf } from "./event-helpers.ts";
import { newDevice, type RawDevice } from "./raw-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

describeEachMode("multi-device", (mode) => {
  const server = useTestServer(mode);

  test("two users with phone+desktop: same messages in the same order everywhere, ticks progress on every sender device", async () => {
    const alicePhone = await newDevice(server().url, "md_alice");
    const aliceDesktop = await newDevice(server().url, "md_alice", { register: false });
    const bobPhone = await newDevice(server().url, "md_bob");
    const bobDesktop = await newDevice(server().url, "md_bob", { register: false });
    const all = [alicePhone, aliceDesktop, bobPhone, bobDesktop];
    const conversationId = (await alicePhone.chat.startConversation({ peer: { case: "peerUsername", value: "md_bob" } }))
      .conversation!.conversationId;
    await Promise.all(all.map((d) => d.connect()));

    // Interleaved sends from three devices of both users.
    const plan: [RawDevice, string][] = [];
    for (let i = 0; i < 10; i++) {
      plan.push([alicePhone, `a-phone-${i}`], [bobDesktop, `b-desk-${i}`], [aliceDesktop, `a-desk-${i}`]);
    }
    for (const [d, text] of plan) d.send({ case: "send", value: { clientMsgId: crypto.randomUUID(), conversationId, text } });
    for (const d of all) for (const [, text] of plan) await d.waitFor(isMessage(text));

    const views = all.map((d) => messagesOf(d.events, conversationId));
    for (const v of views) {
      expect(v.length).toBe(plan.length);
      assertChain(v);
      expect(v.map((m) => m.seq)).toEqual(views[0]!.map((m) => m.seq));
      expect(v.map(textOf)).toEqual(views[0]!.map(textOf));
    }
    // Per-sender order is kept (each device sends in order on its stream).
    for (const prefix of ["a-phone", "b-desk", "a-desk"]) {
      const mine = views[0]!.map(textOf).filter((t) => t.startsWith(prefix));
      expect(mine).toEqual(Array.from({ length: 10 }, (_, i) => `${prefix}-${i}`));
    }

    const last = views[0]!.at(-1)!.seq;
    const lastFromAlice = [...views[0]!].reverse().find((m) => m.senderUserId === alicePhone.userId)!.seq;
    // Written to bob's sockets, but not acked: alice's devices must not see "delivered" yet.
    const before = alicePhone.events.length;
    await Bun.sleep(100);
    expect(
      alicePhone.events.slice(before).some(isReceipt(bobPhone.userId, (r) => r.deliveredSeq >= lastFromAlice)),
    ).toBe(false);
    expect(alicePhone.events.some(isReceipt(bobPhone.userId, (r) => r.deliveredSeq > 0n))).toBe(false);

    // Bob's desktop acks: delivered reaches both of alice's devices (and bob's phone).
    bobDesktop.send({ case: "ack", value: { conversationId, seq: last } });
    for (const d of [alicePhone, aliceDesktop, bobPhone]) {
      await d.waitFor(isReceipt(bobPhone.userId, (r) => r.deliveredSeq === last && r.readSeq === 0n));
    }
    // Bob's phone marks read: read (and delivered) reach every device.
    bobPhone.send({ case: "read", value: { conversationId, seq: last } });
    for (const d of all) await d.waitFor(isReceipt(bobPhone.userId, (r) => r.readSeq === last && r.deliveredSeq === last));

    // A lower read later never moves the watermark back.
    bobDesktop.send({ case: "read", value: { conversationId, seq: views[0]![0]!.seq } });
    const list = await alicePhone.chat.listConversations({});
    const conv = list.conversations.find((c) => c.conversationId === conversationId)!;
    expect(conv.peerReceipt!.readSeq).toBe(last);
    expect(conv.headSeq).toBe(last);
    await Promise.all(all.map((d) => d.disconnect()));
  });

  test("read implies delivered, and a watermark is the max over the user's devices", async () => {
    const a = await newDevice(server().url, "rd_alice");
    const b1 = await newDevice(server().url, "rd_bob");
    const b2 = await newDevice(server().url, "rd_bob", { register: false });
    const conversationId = (await a.chat.startConversation({ peer: { case: "peerUsername", value: "rd_bob" } })).conversation!
      .conversationId;
    await a.connect();
    for (let i = 0; i < 3; i++) await a.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `m${i}` });
    await a.waitFor(isMessage("m2"));
    const seqs = messagesOf(a.events, conversationId).map((m) => m.seq);
    await b1.chat.markRead({ conversationId, seq: seqs[1]! });
    await a.waitFor(isReceipt(b1.userId, (r) => r.readSeq === seqs[1] && r.deliveredSeq === seqs[1]));
    await b2.chat.ack({ conversationId, seq: seqs[0]! }); // lower, from the other device: no regression
    await b2.chat.ack({ conversationId, seq: seqs[2]! });
    await a.waitFor(isReceipt(b1.userId, (r) => r.deliveredSeq === seqs[2] && r.readSeq === seqs[1]));
    const conv = (await b1.chat.listConversations({})).conversations[0]!;
    expect(conv.ownReceipt!.deliveredSeq).toBe(seqs[2]!);
    expect(conv.ownReceipt!.readSeq).toBe(seqs[1]!);
    expect(conv.unreadCount).toBe(1n);
    await a.disconnect();
  });
});
