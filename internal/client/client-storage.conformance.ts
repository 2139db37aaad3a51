import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { ChatMessage, ClientStorage } from "./client-storage.ts";

/** A fresh, empty storage, and how to reopen it if the backend is durable. */
export interface ClientStorageFixture {
  readonly storage: ClientStorage;
  /** Closes this storage and opens the same data again, as a restarted process would (durable backends). */
  readonly reopen?: () => Promise<ClientStorage>;
  /** Removes what the fixture created (files). */
  readonly cleanup?: () => Promise<void>;
}

const conv = "c-1";
const otherConv = "c-2";

const message = (seq: number, prevSeq: number, overrides: Partial<ChatMessage> = {}): ChatMessage => ({
  conversationId: conv,
  seq,
  prevSeq,
  senderUserId: "u-alice",
  senderDeviceId: "d-alice-1",
  clientMsgId: `m-${seq}`,
  text: `message ${seq}`,
  sentAtMs: 1_700_000_000_000 + seq,
  ...overrides,
});

const send = (clientMsgId: string, conversationId = conv) => ({
  clientMsgId,
  conversationId,
  text: `text of ${clientMsgId}`,
  createdAtMs: 1_700_000_000_000,
});

/**
 * The shared contract suite of the ClientStorage port (see its doc comment),
 * run by every adapter's test file against a fresh storage per case.
 */
export function describeClientStorage(
  name: string,
  make: () => Promise<ClientStorageFixture>,
  opts: { readonly durable: boolean },
): void {
  const { durable } = opts;
  describe(`ClientStorage conformance: ${name}`, () => {
    let fixture: ClientStorageFixture;
    let storage: ClientStorage;

    beforeEach(async () => {
      fixture = await make();
      storage = fixture.storage;
    });
    afterEach(async () => {
      await storage.close();
      await fixture.cleanup?.();
    });

    test("lists the outbox in enqueue order", async () => {
      for (const id of ["k-3", "k-1", "k-2"]) await storage.enqueueSend(send(id));
      expect((await storage.listOutbox()).map((s) => s.clientMsgId)).toEqual(["k-3", "k-1", "k-2"]);
      expect((await storage.listOutbox()).every((s) => s.state === "queued")).toBe(true);
    });

    test("enqueueing a held client_msg_id again changes nothing", async () => {
      await storage.enqueueSend(send("k-1"));
      await storage.enqueueSend(send("k-2"));
      await storage.enqueueSend({ ...send("k-1"), text: "other text" });
      const outbox = await storage.listOutbox();
      expect(outbox.map((s) => s.clientMsgId)).toEqual(["k-1", "k-2"]);
      expect(outbox[0]?.text).toBe("text of k-1");
    });

    test("an accepted send leaves the outbox but stays visible with its seq", async () => {
      await storage.enqueueSend(send("k-1"));
      await storage.enqueueSend(send("k-2"));
      await storage.markSendAccepted("k-1");
      await storage.markSendAccepted("k-2", 42);
      expect(await storage.listOutbox()).toEqual([]);
      const local = await storage.listLocalSends(conv);
      expect(local.map((s) => [s.clientMsgId, s.state, s.seq])).toEqual([
        ["k-1", "accepted", undefined],
        ["k-2", "accepted", 42],
      ]);
    });

    test("a failed send leaves the outbox, keeps its reason, and cannot be accepted later", async () => {
      await storage.enqueueSend(send("k-1"));
      await storage.markSendFailed("k-1", "BODY_TOO_LARGE");
      await storage.markSendAccepted("k-1", 7);
      expect(await storage.listOutbox()).toEqual([]);
      const [failed] = await storage.listLocalSends(conv);
      expect(failed).toMatchObject({ clientMsgId: "k-1", state: "failed", failure: "BODY_TOO_LARGE" });
      expect(failed?.seq).toBeUndefined();
    });

    test("lists local sends per conversation or all in enqueue order, and forgets removed ones", async () => {
      await storage.enqueueSend(send("k-1"));
      await storage.enqueueSend(send("k-2", otherConv));
      await storage.enqueueSend(send("k-3"));
      await storage.removeLocalSend("k-1");
      expect((await storage.listLocalSends(conv)).map((s) => s.clientMsgId)).toEqual(["k-3"]);
      expect((await storage.listLocalSends(otherConv)).map((s) => s.clientMsgId)).toEqual(["k-2"]);
      expect((await storage.listLocalSends()).map((s) => s.clientMsgId)).toEqual(["k-2", "k-3"]);
    });

    test("lists messages ascending by seq whatever the insertion order", async () => {
      await storage.putMessages([message(30, 20), message(10, 0)]);
      await storage.putMessages([message(20, 10)]);
      expect((await storage.listMessages(conv)).map((m) => m.seq)).toEqual([10, 20, 30]);
      expect(await storage.listMessages(otherConv)).toEqual([]);
    });

    test("storing a held seq again keeps the first copy", async () => {
      await storage.putMessages([message(10, 0)]);
      await storage.putMessages([message(10, 0, { text: "impostor" }), message(10, 0, { text: "again" })]);
      const held = await storage.listMessages(conv);
      expect(held).toEqual([message(10, 0)]);
    });

    test("storing the sequenced copy settles the local send of the same conversation only", async () => {
      await storage.enqueueSend(send("m-10"));
      await storage.enqueueSend(send("m-20", otherConv));
      await storage.putMessages([message(10, 0), message(20, 10)]);
      expect(await storage.listLocalSends(conv)).toEqual([]);
      expect(await storage.listOutbox()).toHaveLength(1);
      expect((await storage.listLocalSends(otherConv)).map((s) => s.clientMsgId)).toEqual(["m-20"]);
    });

    test("sets cursors per conversation, the last write winning", async () => {
      await storage.setCursor(conv, 10);
      await storage.setCursor(otherConv, 5);
      await storage.setCursor(conv, 30);
      expect(await storage.listCursors()).toEqual(new Map([[conv, 30], [otherConv, 5]]));
    });

    test.each([
      { name: "raises both watermarks", then: { deliveredSeq: 20, readSeq: 10 }, want: { deliveredSeq: 20, readSeq: 10 } },
      { name: "never lowers them", then: { deliveredSeq: 1, readSeq: 0 }, want: { deliveredSeq: 10, readSeq: 5 } },
      { name: "raises each field on its own", then: { deliveredSeq: 3, readSeq: 8 }, want: { deliveredSeq: 10, readSeq: 8 } },
    ])("a receipt update $name", async ({ then, want }) => {
      await storage.putReceipt({ conversationId: conv, userId: "u-bob", deliveredSeq: 10, readSeq: 5 });
      await storage.putReceipt({ conversationId: conv, userId: "u-bob", ...then });
      await storage.putReceipt({ conversationId: conv, userId: "u-alice", deliveredSeq: 99, readSeq: 99 });
      const bob = (await storage.listReceipts(conv)).find((r) => r.userId === "u-bob");
      expect(bob).toEqual({ conversationId: conv, userId: "u-bob", ...want });
    });

    test("a conversation reset drops messages, cursor and receipts but keeps metadata and local sends", async () => {
      await storage.putConversation({ conversationId: conv, peerUserId: "u-bob", peerUsername: "bob" });
      await storage.putMessages([message(10, 0), message(20, 10, { conversationId: otherConv })]);
      await storage.setCursor(conv, 10);
      await storage.setCursor(otherConv, 20);
      await storage.putReceipt({ conversationId: conv, userId: "u-bob", deliveredSeq: 10, readSeq: 10 });
      await storage.enqueueSend(send("k-1"));

      await storage.resetConversation(conv);

      expect(await storage.listMessages(conv)).toEqual([]);
      expect(await storage.listReceipts(conv)).toEqual([]);
      expect(await storage.listCursors()).toEqual(new Map([[otherConv, 20]]));
      expect(await storage.listMessages(otherConv)).toHaveLength(1);
      expect(await storage.listConversations()).toHaveLength(1);
      expect((await storage.listOutbox()).map((s) => s.clientMsgId)).toEqual(["k-1"]);
      // After the reset, the same seqs can be stored afresh.
      await storage.putMessages([message(10, 0, { text: "new epoch" })]);
      expect((await storage.listMessages(conv))[0]?.text).toBe("new epoch");
    });

    test("upserts conversation metadata", async () => {
      await storage.putConversation({ conversationId: conv, peerUserId: "", peerUsername: "" });
      await storage.putConversation({ conversationId: conv, peerUserId: "u-bob", peerUsername: "bob" });
      expect(await storage.listConversations()).toEqual([{ conversationId: conv, peerUserId: "u-bob", peerUsername: "bob" }]);
    });

    test("keeps one device record", async () => {
      expect(await storage.getDevice()).toBeUndefined();
      await storage.putDevice({ userId: "u-alice", username: "alice", deviceId: "d-1" });
      await storage.putDevice({ userId: "u-alice", username: "alice", deviceId: "d-2", token: "t" });
      expect(await storage.getDevice()).toEqual({ userId: "u-alice", username: "alice", deviceId: "d-2", token: "t" });
    });

    test("returns copies that callers cannot use to change the storage", async () => {
      await storage.putMessages([message(10, 0)]);
      await storage.enqueueSend(send("k-1"));
      const [held] = await storage.listMessages(conv);
      (held as { text: string }).text = "mutated";
      const [queued] = await storage.listOutbox();
      (queued as { text: string }).text = "mutated";
      expect((await storage.listMessages(conv))[0]?.text).toBe("message 10");
      expect((await storage.listOutbox())[0]?.text).toBe("text of k-1");
    });

    // Only durable storages have a reopen case; memory storage is not durable by design.
    if (!durable) return;
    test("a reopened storage keeps outbox order, states, cursors, messages, receipts and device", async () => {
      if (!fixture.reopen) throw new Error("a durable fixture must provide reopen()");
      await storage.enqueueSend(send("k-1"));
      await storage.enqueueSend(send("k-2"));
      await storage.enqueueSend(send("k-3"));
      await storage.markSendAccepted("k-2", 20);
      await storage.markSendFailed("k-3", "INVALID_UTF8");
      await storage.putMessages([message(10, 0), message(20, 10)]);
      await storage.setCursor(conv, 20);
      await storage.putReceipt({ conversationId: conv, userId: "u-bob", deliveredSeq: 20, readSeq: 10 });
      await storage.putConversation({ conversationId: conv, peerUserId: "u-bob", peerUsername: "bob" });
      await storage.putDevice({ userId: "u-alice", username: "alice", deviceId: "d-1" });

      storage = await fixture.reopen();

      expect((await storage.listOutbox()).map((s) => s.clientMsgId)).toEqual(["k-1"]);
      expect((await storage.listLocalSends(conv)).map((s) => [s.clientMsgId, s.state, s.seq])).toEqual([
        ["k-1", "queued", undefined],
        ["k-2", "accepted", 20],
        ["k-3", "failed", undefined],
      ]);
      expect(await storage.listMessages(conv)).toEqual([message(10, 0), message(20, 10)]);
      expect(await storage.listCursors()).toEqual(new Map([[conv, 20]]));
      expect(await storage.listReceipts(conv)).toEqual([{ conversationId: conv, userId: "u-bob", deliveredSeq: 20, readSeq: 10 }]);
      expect(await storage.listConversations()).toHaveLength(1);
      expect((await storage.getDevice())?.deviceId).toBe("d-1");
    });
  });
}
