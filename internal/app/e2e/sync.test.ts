import { expect, test } from "bun:test";
import { assertChain, isMessage, isReceipt, messagesOf, textOf } from "./event-helpers.ts";
import { newDevice, type RawDevice } from "./raw-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

describeEachMode("sync", (mode) => {
  const server = useTestServer(mode, { gateway: { recentWindow: 5, sendBurst: 10_000, sendRatePerSec: 10_000 } });

  async function pair(a: string, b: string) {
    const alice = await newDevice(server().url, a);
    const bob = await newDevice(server().url, b);
    const conversationId = (await alice.chat.startConversation({ peer: { case: "peerUsername", value: b } })).conversation!
      .conversationId;
    return { alice, bob, conversationId };
  }

  /** Waits (bounded) until the conversation's history holds `n` messages. */
  async function storedCount(d: RawDevice, conversationId: string, n: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    const count = async () => (await d.chat.getHistory({ conversationId, forward: true, afterSeq: 0n, limit: n + 1 })).messages.length;
    while ((await count()) < n && Date.now() < deadline) await Bun.sleep(20);
    expect(await count()).toBe(n);
  }

  test("retry storm: one client id re-sent many times, over two devices and a reconnect, is stored once with one seq", async () => {
    const { alice, bob, conversationId } = await pair("rs_alice", "rs_bob");
    const alice2 = await newDevice(server().url, "rs_alice", { register: false });
    await Promise.all([alice.connect(), alice2.connect(), bob.connect()]);
    const clientMsgId = crypto.randomUUID();
    const frame = { case: "send" as const, value: { clientMsgId, conversationId, text: "only once" } };
    const resultsOf = (d: typeof alice) =>
      d.events.flatMap((e) => (e.event.case === "sendResult" && e.event.value.clientMsgId === clientMsgId ? [e.event.value] : []));
    const waitCount = async (d: typeof alice, n: number) => {
      const deadline = Date.now() + 10_000;
      while (resultsOf(d).length < n && Date.now() < deadline) await Bun.sleep(10);
      expect(resultsOf(d).length).toBe(n);
    };
    for (let i = 0; i < 20; i++) alice.send(frame);
    await waitCount(alice, 20);
    await Promise.all(Array.from({ length: 20 }, () => alice2.chat.sendMessage({ clientMsgId, conversationId, text: "only once" })));
    await waitCount(alice2, 20);
    await alice.disconnect();
    await alice.connect();
    for (let i = 0; i < 10; i++) alice.send(frame);
    await waitCount(alice, 30);
    const results = [...resultsOf(alice), ...resultsOf(alice2)];
    expect(new Set(results.map((r) => r.seq)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate).length).toBe(1);
    // Stored once.
    const history = await bob.chat.getHistory({ conversationId, forward: true, afterSeq: 0n, limit: 100 });
    expect(history.messages.map(textOf)).toEqual(["only once"]);
    expect(messagesOf(bob.events, conversationId).length).toBe(1);
    await Promise.all([alice.disconnect(), alice2.disconnect(), bob.disconnect()]);
  });

  test("a device back from offline gets exactly the missed messages, then live ones, with no gap or duplicate", async () => {
    const { alice, bob, conversationId } = await pair("cu_alice", "cu_bob");
    await bob.connect();
    for (let i = 0; i < 5; i++) await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `before-${i}` });
    await bob.waitFor(isMessage("before-4"));
    const held = messagesOf(bob.events, conversationId);
    const cursor = held.at(-1)!.seq;
    await bob.disconnect();

    // Offline: 300 messages (more than one catch-up page).
    for (let i = 0; i < 300; i++) await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `missed-${i}` });
    const from = bob.events.length;
    // New messages keep arriving while bob catches up.
    let stop = false;
    const live = (async () => {
      for (let i = 0; i < 50 && !stop; i++) {
        await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `during-${i}` });
      }
    })();
    await bob.connect([{ conversationId, seq: Number(cursor) }]);
    await live;
    stop = true;
    await bob.waitFor(isMessage("during-49"), 10_000, from);
    const got = messagesOf(bob.events.slice(from), conversationId);
    assertChain(got, cursor);
    const texts = got.map(textOf);
    expect(texts.filter((t) => t.startsWith("missed-")).length).toBe(300);
    expect(texts.filter((t) => t.startsWith("during-")).length).toBe(50);
    expect(texts.some((t) => t.startsWith("before-"))).toBe(false);
    // SyncComplete comes after the catch-up, from where it started.
    const sync = bob.events.slice(from).find((e) => e.event.case === "syncConversation");
    expect(sync?.event.case === "syncConversation" && sync.event.value.fromSeq).toBe(cursor);
    await bob.disconnect();
  });

  test("a brand-new device of an existing user gets the conversation list, the recent window and the read state", async () => {
    const { alice, bob, conversationId } = await pair("nd_alice", "nd_bob");
    for (let i = 0; i < 12; i++) await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `m-${i}` });
    await bob.connect();
    await bob.waitFor(isMessage("m-11"));
    const all = (await bob.chat.getHistory({ conversationId, forward: true, afterSeq: 0n, limit: 100 })).messages;
    expect(all.length).toBe(12);
    await bob.chat.markRead({ conversationId, seq: all[7]!.seq });
    await bob.waitFor(isReceipt(bob.userId, (r) => r.readSeq === all[7]!.seq));

    const tablet = await newDevice(server().url, "nd_bob", { register: false });
    await tablet.connect();
    const header = tablet.events.find((e) => e.event.case === "syncConversation");
    expect(header?.event.case).toBe("syncConversation");
    if (header?.event.case !== "syncConversation") return;
    const conv = header.event.value.conversation!;
    expect(conv.peerUsername).toBe("nd_alice");
    expect(conv.headSeq).toBe(all[11]!.seq);
    expect(conv.unreadCount).toBe(4n);
    expect(conv.ownReceipt!.readSeq).toBe(all[7]!.seq);
    expect(conv.lastMessage && textOf(conv.lastMessage)).toBe("m-11");
    // Recent window (5) with an unbroken chain from its first prev_seq.
    const window = messagesOf(tablet.events, conversationId);
    expect(window.map(textOf)).toEqual(["m-7", "m-8", "m-9", "m-10", "m-11"]);
    assertChain(window, header.event.value.fromSeq);
    // Older history pages backwards.
    const older = await tablet.chat.getHistory({ conversationId, beforeSeq: window[0]!.seq, limit: 4 });
    expect(older.messages.map(textOf)).toEqual(["m-3", "m-4", "m-5", "m-6"]);
    expect(older.hasMore).toBe(true);
    const oldest = await tablet.chat.getHistory({ conversationId, beforeSeq: older.messages[0]!.seq, limit: 4 });
    expect(oldest.messages.map(textOf)).toEqual(["m-0", "m-1", "m-2"]);
    expect(oldest.hasMore).toBe(false);
    // The read state is on the list too.
    const list = await tablet.chat.listConversations({});
    expect(list.conversations[0]!.ownReceipt!.readSeq).toBe(all[7]!.seq);
    await Promise.all([bob.disconnect(), tablet.disconnect()]);
  });

  test("a cursor the server cannot vouch for (beyond the head) gets an explicit reset and a fresh window", async () => {
    const { alice, bob, conversationId } = await pair("rz_alice", "rz_bob");
    for (let i = 0; i < 3; i++) await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `r-${i}` });
    // "Sent" means in the log; the worker stores afterwards (in distributed mode, in another process).
    await storedCount(alice, conversationId, 3);
    const head = (await alice.chat.listConversations({})).conversations[0]!.headSeq;
    await bob.connect([{ conversationId, seq: Number(head) + 1_000 }]);
    const header = bob.events.find((e) => e.event.case === "syncConversation");
    expect(header?.event.case === "syncConversation" && header.event.value.reset).toBe(true);
    expect(messagesOf(bob.events, conversationId).map(textOf)).toEqual(["r-0", "r-1", "r-2"]);
    await bob.disconnect();
  });
});
