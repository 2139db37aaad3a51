import { describe, expect, test } from "bun:test";
import type { ChatMessage } from "./client-storage.ts";
import { computeTick, createConversationState } from "./conversation-state.ts";

const conv = "c-1";
const msg = (seq: number, prevSeq: number, clientMsgId = `m-${seq}`): ChatMessage => ({
  conversationId: conv,
  seq,
  prevSeq,
  senderUserId: "u-bob",
  senderDeviceId: "d-bob",
  clientMsgId,
  text: `t${seq}`,
  sentAtMs: seq,
});

/** A chain with non-dense seqs: 0 <- 5 <- 9 <- 20 <- 21 <- 40. */
const chain = [msg(5, 0), msg(9, 5), msg(20, 9), msg(21, 20), msg(40, 21)];
const at = (i: number): ChatMessage => chain[i] as ChatMessage;

describe("conversation state: dedup and cursor", () => {
  test("advances the cursor along prev_seq links although seqs are not dense", () => {
    const state = createConversationState(conv);
    for (const m of chain) expect(state.insert(m)).toBe(true);
    expect(state.cursor).toBe(40);
    expect(state.gap()).toBeUndefined();
  });

  test("ignores a message whose seq is already held", () => {
    const state = createConversationState(conv);
    state.insert(at(0));
    expect(state.insert({ ...at(0), text: "again" })).toBe(false);
    expect(state.messages()).toHaveLength(1);
    expect(state.messages()[0]?.text).toBe("t5");
  });

  test.each([
    { name: "in order", order: [0, 1, 2, 3, 4] },
    { name: "reversed", order: [4, 3, 2, 1, 0] },
    { name: "shuffled with duplicates", order: [2, 0, 4, 2, 1, 0, 3, 4] },
  ])("holds the same ordered messages and cursor whatever the arrival order: $name", ({ order }) => {
    const state = createConversationState(conv);
    for (const i of order) state.insert(at(i));
    expect(state.messages().map((m) => m.seq)).toEqual([5, 9, 20, 21, 40]);
    expect(state.cursor).toBe(40);
  });

  test("finds a message by its client_msg_id", () => {
    const state = createConversationState(conv);
    state.insert(msg(5, 0, "k-own"));
    expect(state.byClientMsgId("k-own")?.seq).toBe(5);
    expect(state.byClientMsgId("k-unknown")).toBeUndefined();
  });
});

describe("conversation state: gaps", () => {
  test("reports the missing range when a message's prev_seq is above the cursor", () => {
    const state = createConversationState(conv);
    state.insert(at(0));
    state.insert(at(3)); // 21, prev 20: 9 and 20 are missing
    expect(state.cursor).toBe(5);
    expect(state.gap()).toEqual({ afterSeq: 5, beforeSeq: 21 });
  });

  test("closes the gap once the missing messages arrive, jumping over parked ones", () => {
    const state = createConversationState(conv);
    for (const i of [0, 3, 4]) state.insert(at(i));
    state.insert(at(1));
    expect(state.gap()).toEqual({ afterSeq: 9, beforeSeq: 21 });
    state.insert(at(2));
    expect(state.gap()).toBeUndefined();
    expect(state.cursor).toBe(40);
  });

  test("a new device's window starts the chain at from_seq, with no gap below it", () => {
    const state = createConversationState(conv);
    state.startAt(20);
    state.insert(at(3));
    state.insert(at(4));
    expect(state.cursor).toBe(40);
    expect(state.gap()).toBeUndefined();
    expect(state.hasOlder()).toBe(true);
    expect(state.olderThanSeq()).toBe(21);
  });

  test("from_seq does not move the cursor of a device that holds history", () => {
    const state = createConversationState(conv);
    state.insert(at(0));
    state.startAt(20);
    expect(state.cursor).toBe(5);
    state.insert(at(3));
    expect(state.gap()).toEqual({ afterSeq: 5, beforeSeq: 21 });
  });

  test("older pages below the cursor become history without touching the cursor", () => {
    const state = createConversationState(conv);
    state.startAt(20);
    state.insert(at(3));
    state.insert(at(1));
    state.insert(at(0));
    expect(state.cursor).toBe(21);
    expect(state.olderThanSeq()).toBe(0);
    expect(state.hasOlder()).toBe(false);
  });

  test.each([
    { name: "nothing held and no cursor", cursor: 0, held: [], want: 0 },
    { name: "nothing held below a cursor", cursor: 9, held: [], want: 10 },
    { name: "the oldest held message is the first one", cursor: 0, held: [0, 1], want: 0 },
    { name: "the oldest held message has a predecessor", cursor: 0, held: [2, 3], want: 20 },
  ])("pages older history from the right seq: $name", ({ cursor, held, want }) => {
    const state = createConversationState(conv, cursor);
    for (const i of held) state.insert(at(i));
    expect(state.olderThanSeq()).toBe(want);
  });
});

describe("conversation state: reset and receipts", () => {
  test("a reset drops messages, receipts and cursor, and the next window starts afresh", () => {
    const state = createConversationState(conv);
    for (const m of chain) state.insert(m);
    state.applyReceipt({ userId: "u-bob", deliveredSeq: 40, readSeq: 40 });
    state.reset();
    expect(state.cursor).toBe(0);
    expect(state.messages()).toEqual([]);
    expect(state.receipt("u-bob")).toBeUndefined();
    state.startAt(3);
    state.insert(msg(4, 3));
    expect(state.cursor).toBe(4);
  });

  test.each([
    { name: "raises watermarks", updates: [[3, 1], [5, 4]], want: { deliveredSeq: 5, readSeq: 4 } },
    { name: "never lowers them", updates: [[5, 4], [3, 1]], want: { deliveredSeq: 5, readSeq: 4 } },
    { name: "treats read as delivered", updates: [[2, 2], [0, 7]], want: { deliveredSeq: 7, readSeq: 7 } },
  ])("a receipt $name", ({ updates, want }) => {
    const state = createConversationState(conv);
    for (const [deliveredSeq, readSeq] of updates) {
      state.applyReceipt({ userId: "u-bob", deliveredSeq: deliveredSeq ?? 0, readSeq: readSeq ?? 0 });
    }
    expect(state.receipt("u-bob")).toEqual(want);
  });

  test("reports whether a receipt changed anything", () => {
    const state = createConversationState(conv);
    expect(state.applyReceipt({ userId: "u-bob", deliveredSeq: 5, readSeq: 0 })).toBe(true);
    expect(state.applyReceipt({ userId: "u-bob", deliveredSeq: 5, readSeq: 0 })).toBe(false);
    expect(state.applyReceipt({ userId: "u-bob", deliveredSeq: 4, readSeq: 0 })).toBe(false);
    expect(state.applyReceipt({ userId: "u-bob", deliveredSeq: 5, readSeq: 1 })).toBe(true);
  });
});

describe("ticks", () => {
  const peer = { deliveredSeq: 20, readSeq: 9 };
  test.each([
    { name: "queued without seq is pending", send: { state: "queued", seq: undefined }, peer, want: "pending" },
    { name: "accepted without seq is sent", send: { state: "accepted", seq: undefined }, peer, want: "sent" },
    { name: "a seq above the peer's delivered is sent", send: { state: "accepted", seq: 21 }, peer, want: "sent" },
    { name: "a seq at the peer's delivered is delivered", send: { state: "accepted", seq: 20 }, peer, want: "delivered" },
    { name: "a seq at the peer's read is read", send: { state: "accepted", seq: 9 }, peer, want: "read" },
    { name: "a seq below the peer's read is read", send: { state: "accepted", seq: 5 }, peer, want: "read" },
    { name: "a known seq without peer receipts is sent", send: { state: "accepted", seq: 5 }, peer: undefined, want: "sent" },
    { name: "a failed send is failed", send: { state: "failed", seq: undefined }, peer, want: "failed" },
  ] as const)("$name", ({ send, peer, want }) => {
    expect(computeTick(send, peer)).toBe(want);
  });
});
