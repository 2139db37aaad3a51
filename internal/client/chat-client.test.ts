import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startEmbeddedServer, type RunningServer } from "../app/index.ts";
import { openDevice, registerUser, texts, uniqueName, type TestDevice } from "./client-test-kit.ts";
import type { ReceiveMode } from "./stream-link.ts";

const waitMs = 10_000;
let server: RunningServer;
const devices: TestDevice[] = [];

beforeAll(async () => {
  server = await startEmbeddedServer({ gateway: { maxBodyBytes: 1_024 } });
});
afterAll(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
  await server.destroy();
});

/** Two fresh users with a conversation, each with one running device. */
async function pair(aliceMode: ReceiveMode, bobMode: ReceiveMode) {
  const [aliceName, bobName] = [uniqueName("alice"), uniqueName("bob")];
  await registerUser(server.url, aliceName);
  const bobId = await registerUser(server.url, bobName);
  const alice = await openDevice(server.url, { username: aliceName, mode: aliceMode });
  const bob = await openDevice(server.url, { username: bobName, mode: bobMode });
  devices.push(alice, bob);
  const { conversationId } = await alice.client.startConversation({ username: bobName });
  return { alice, bob, aliceName, bobName, bobId, conversationId };
}

const modePairs = [
  { alice: "bidi", bob: "bidi" },
  { alice: "subscribe", bob: "subscribe" },
  { alice: "bidi", bob: "subscribe" },
] as const;

describe.each(modePairs)("chat client, alice $alice / bob $bob", ({ alice: aliceMode, bob: bobMode }) => {
  test("a sent message reaches the peer and its ticks go sent -> delivered -> read", async () => {
    const { alice, bob, conversationId } = await pair(aliceMode, bobMode);
    await alice.client.waitFor(() => alice.client.connectionState() === "live", waitMs, "alice live");
    const { clientMsgId } = await alice.client.send(conversationId, "hello bob");

    await bob.client.waitFor(() => texts(bob.client, conversationId).includes("hello bob"), waitMs, "bob receives");
    const received = bob.client.messages(conversationId).find((m) => m.clientMsgId === clientMsgId);
    expect(received).toMatchObject({ own: false, senderUserId: alice.session.userId });
    expect(received?.tick).toBeUndefined();

    // Bob's device acks on its own once the message is stored.
    await alice.client.waitFor(() => alice.client.messageState(conversationId, clientMsgId) === "delivered", waitMs, "delivered");
    bob.client.markRead(conversationId);
    await alice.client.waitFor(() => alice.client.messageState(conversationId, clientMsgId) === "read", waitMs, "read");
    expect(alice.client.messages(conversationId).map((m) => [m.text, m.own, m.tick])).toEqual([["hello bob", true, "read"]]);
  });

  test("a burst of messages arrives once each, in send order, on both sides", async () => {
    const { alice, bob, conversationId } = await pair(aliceMode, bobMode);
    const sent = Array.from({ length: 20 }, (_, i) => `burst ${i}`);
    for (const text of sent) await alice.client.send(conversationId, text);
    await bob.client.waitFor(() => texts(bob.client, conversationId).length === sent.length, waitMs, "bob has all");
    await alice.client.waitFor(
      () => alice.client.messages(conversationId).every((m) => m.seq !== undefined && m.tick !== "pending"),
      waitMs,
      "alice holds sequenced copies",
    );
    expect(texts(bob.client, conversationId)).toEqual(sent);
    expect(texts(alice.client, conversationId)).toEqual(sent);
    const seqs = bob.client.messages(conversationId).map((m) => m.seq ?? 0);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(sent.length);
  });

  test("a message the server refuses is marked failed and later messages still go through", async () => {
    const { alice, bob, conversationId } = await pair(aliceMode, bobMode);
    const tooLarge = await alice.client.send(conversationId, "x".repeat(2_000));
    const fine = await alice.client.send(conversationId, "after the refusal");
    await alice.client.waitFor(() => alice.client.messageState(conversationId, tooLarge.clientMsgId) === "failed", waitMs, "failed");
    await bob.client.waitFor(() => texts(bob.client, conversationId).includes("after the refusal"), waitMs, "bob gets the next");
    const failed = alice.client.messages(conversationId).find((m) => m.clientMsgId === tooLarge.clientMsgId);
    expect(failed).toMatchObject({ tick: "failed", failure: "BODY_TOO_LARGE" });
    expect(texts(bob.client, conversationId)).toEqual(["after the refusal"]);
    expect(alice.client.messageState(conversationId, fine.clientMsgId)).not.toBe("failed");
  });

  test("typing indicators and presence reach the watching peer", async () => {
    const { alice, bob, conversationId } = await pair(aliceMode, bobMode);
    bob.client.watchPresence([alice.session.userId]);
    await bob.client.waitFor(() => bob.client.presence(alice.session.userId)?.online === true, waitMs, "alice online");
    const typing: boolean[] = [];
    bob.client.on((e) => {
      if (e.type === "typing" && e.userId === alice.session.userId) typing.push(e.typing);
    });
    await alice.client.waitFor(() => alice.client.connectionState() === "live", waitMs, "alice live");
    alice.client.setTyping(conversationId, true);
    await bob.client.waitFor(() => typing.includes(true), waitMs, "typing seen");
    await alice.stop();
    await bob.client.waitFor(() => bob.client.presence(alice.session.userId)?.online === false, waitMs, "alice last seen");
    expect(bob.client.presence(alice.session.userId)?.lastSeenMs).toBeGreaterThan(0);
  });
});

describe("chat client across devices", () => {
  test("a message sent from one device shows on the sender's other device with its tick", async () => {
    const { alice, bob, aliceName, conversationId } = await pair("bidi", "bidi");
    const aliceTablet = await openDevice(server.url, { username: aliceName, mode: "subscribe" });
    devices.push(aliceTablet);
    const { clientMsgId } = await alice.client.send(conversationId, "from the phone");
    await aliceTablet.client.waitFor(
      () => aliceTablet.client.messageState(conversationId, clientMsgId) === "delivered",
      waitMs,
      "tablet sees the delivered message",
    );
    expect(aliceTablet.client.messages(conversationId)).toMatchObject([{ text: "from the phone", own: true, clientMsgId }]);
    expect(texts(bob.client, conversationId)).toEqual(["from the phone"]);
  });

  test("the conversation list shows a conversation a peer started, with unread counts", async () => {
    const { alice, bob, conversationId } = await pair("bidi", "subscribe");
    await alice.client.send(conversationId, "one");
    await alice.client.send(conversationId, "two");
    await bob.client.waitFor(() => bob.client.conversation(conversationId)?.unreadCount === 2, waitMs, "two unread");
    // The conversation was discovered through a live message; its peer is learned from the list.
    await bob.client.waitFor(
      () => bob.client.conversation(conversationId)?.peerUserId === alice.session.userId,
      waitMs,
      "peer learned",
    );
    bob.client.markRead(conversationId);
    await bob.client.waitFor(() => bob.client.conversation(conversationId)?.unreadCount === 0, waitMs, "read");
    expect(bob.client.conversations().map((c) => c.conversationId)).toContain(conversationId);
  });
});
