import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Seq } from "../domain/index.ts";
import { BUCKET_SPAN } from "./buckets.ts";
import type { MessageStore } from "./message-store.ts";
import { describeMessageStoreState } from "./message-store-state.conformance.ts";
import { messageAt, newConversation, seqsOf, thread, type StoreFixture } from "./store-fixture.ts";

export { describeAccountStore } from "./account-store.conformance.ts";
export type { StoreFixture } from "./store-fixture.ts";

/** Seqs are log positions shared with other conversations: sparse, never dense. */
const SPARSE_SEQS: readonly Seq[] = [5, 9, 23, 40];
/** The order a replaying or racing writer may append them in. */
const APPEND_ORDER: readonly Seq[] = [23, 5, 40, 9];

/**
 * The MessageStore contract (internal/store/message-store.ts), run by every
 * adapter's test file. `make` is called once per case.
 */
export function describeMessageStore(name: string, make: () => Promise<StoreFixture<MessageStore>>): void {
  describe(`MessageStore conformance: ${name}`, () => {
    let fixture: StoreFixture<MessageStore>;
    let store: MessageStore;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    /** A conversation holding SPARSE_SEQS, appended out of order. */
    async function seeded() {
      const ctx = newConversation();
      await store.ensureConversation(ctx.conversation);
      const messages = thread(ctx.conversation, SPARSE_SEQS);
      for (const seq of APPEND_ORDER) await store.appendMessage(messages[SPARSE_SEQS.indexOf(seq)]!);
      return { ...ctx, messages };
    }

    describe("conversations", () => {
      test("ensureConversation creates the conversation and an empty list entry for both users", async () => {
        const { conversation, a, b } = newConversation();
        await store.ensureConversation(conversation);
        expect(await store.getConversation(conversation.id)).toEqual(conversation);
        for (const [user, peer] of [[a, b], [b, a]] as const) {
          expect(await store.listConversations(user)).toEqual([
            {
              conversation,
              peerUserId: peer,
              headSeq: 0,
              lastMessage: undefined,
              unreadCount: 0,
              own: { deliveredSeq: 0, readSeq: 0 },
              peer: { deliveredSeq: 0, readSeq: 0 },
            },
          ]);
        }
      });

      test("ensureConversation is idempotent and keeps the first creation", async () => {
        const { conversation, a } = newConversation(1_000);
        await store.ensureConversation(conversation);
        await store.ensureConversation(conversation);
        await store.ensureConversation({ ...conversation, createdAtMs: 2_000 });
        expect(await store.getConversation(conversation.id)).toEqual(conversation);
        expect(await store.listConversations(a)).toHaveLength(1);
      });

      test("getConversation returns undefined for an unknown id", async () => {
        expect(await store.getConversation(newConversation().conversation.id)).toBeUndefined();
      });
    });

    describe("messages", () => {
      test("appendMessage twice stores one byte-identical row", async () => {
        const { conversation } = newConversation();
        await store.ensureConversation(conversation);
        const message = messageAt(conversation, 7, 0, conversation.userA);
        await store.appendMessage(message);
        await store.appendMessage({ ...message });
        expect(await store.messagesAfter(conversation.id, 0, 10)).toEqual([message]);
      });

      test("appends issued together, repeats included, each land once", async () => {
        const { conversation } = newConversation();
        await store.ensureConversation(conversation);
        const messages = thread(conversation, [3, 8, 13, 21, 34]);
        await Promise.all([...messages, ...messages].map((m) => store.appendMessage(m)));
        expect(await store.messagesAfter(conversation.id, 0, 100)).toEqual(messages);
        expect((await store.listConversations(conversation.userB))[0]?.headSeq).toBe(34);
      });

      test("findDedup returns the seq stored with the client id, undefined for an unknown one", async () => {
        const { conversation, messages } = await seeded();
        for (const m of messages) expect(await store.findDedup(conversation.id, m.clientMsgId)).toBe(m.seq);
        expect(await store.findDedup(conversation.id, crypto.randomUUID())).toBeUndefined();
      });

      test("headSeq is 0 when empty and the highest seq whatever the append order", async () => {
        const empty = newConversation().conversation;
        await store.ensureConversation(empty);
        expect(await store.headSeq(empty.id)).toBe(0);
        const { conversation } = await seeded();
        expect(await store.headSeq(conversation.id)).toBe(40);
      });

      // Higher seqs than the probe exist in most rows: a zombie writer may
      // have stored messages beyond the one being sequenced.
      test.each([
        [1, 0],
        [5, 0],
        [6, 5],
        [9, 5],
        [10, 9],
        [23, 9],
        [40, 23],
        [41, 40],
        [1_000_000, 40],
      ])("lastSeqBefore(%p) over seqs 5, 9, 23, 40 is %p", async (probe, expected) => {
        const { conversation } = await seeded();
        expect(await store.lastSeqBefore(conversation.id, probe)).toBe(expected);
      });

      test("lastSeqBefore is 0 in an empty conversation", async () => {
        const { conversation } = newConversation();
        await store.ensureConversation(conversation);
        expect(await store.lastSeqBefore(conversation.id, 100)).toBe(0);
      });

      test.each([
        [0, 10, [5, 9, 23, 40]],
        [0, 2, [5, 9]],
        [6, 1, [9]],
        [9, 10, [23, 40]],
        [40, 10, []],
        [0, 0, []],
      ])("messagesAfter(%p, limit %p) returns %p ascending", async (afterSeq, limit, expected) => {
        const { conversation, messages } = await seeded();
        const got = await store.messagesAfter(conversation.id, afterSeq, limit);
        expect(got).toEqual(messages.filter((m) => expected.includes(m.seq)));
      });

      test.each([
        [1_000, 10, [5, 9, 23, 40]],
        [40, 2, [9, 23]],
        [24, 1, [23]],
        [41, 1, [40]],
        [5, 10, []],
        [1_000, 0, []],
      ])("messagesBefore(%p, limit %p) returns the newest %p ascending", async (beforeSeq, limit, expected) => {
        const { conversation, messages } = await seeded();
        const got = await store.messagesBefore(conversation.id, beforeSeq, limit);
        expect(got).toEqual(messages.filter((m) => expected.includes(m.seq)));
      });

      test("pages forward and backward through messages spread over many buckets", async () => {
        const { conversation } = newConversation();
        await store.ensureConversation(conversation);
        // Gaps within a bucket, to the next bucket, and over runs of empty buckets.
        const gaps = [1, 7, BUCKET_SPAN, 3 * BUCKET_SPAN + 11, BUCKET_SPAN - 1, 2];
        const seqs: Seq[] = [];
        for (let i = 0, seq = 3; i < 40; i++, seq += gaps[i % gaps.length]!) seqs.push(seq);
        const messages = thread(conversation, seqs);
        for (const m of [...messages].reverse()) await store.appendMessage(m);

        const forward: Seq[] = [];
        for (let round = 0, after = 0; round <= seqs.length; round++) {
          const page = await store.messagesAfter(conversation.id, after, 7);
          if (page.length === 0) break;
          forward.push(...seqsOf(page));
          after = page.at(-1)!.seq;
        }
        expect(forward).toEqual(seqs);

        const backward: Seq[][] = [];
        for (let round = 0, before = seqs.at(-1)! + 1; round <= seqs.length; round++) {
          const page = await store.messagesBefore(conversation.id, before, 7);
          if (page.length === 0) break;
          backward.unshift(seqsOf(page));
          before = page[0]!.seq;
        }
        expect(backward.flat()).toEqual(seqs);

        expect(await store.headSeq(conversation.id)).toBe(seqs.at(-1)!);
        for (const [i, m] of messages.entries()) {
          expect(await store.lastSeqBefore(conversation.id, m.seq)).toBe(m.prevSeq);
          expect(await store.lastSeqBefore(conversation.id, m.seq + 1)).toBe(seqs[i]!);
        }
      });

      test("conversations do not see each other's messages, dedup records or heads", async () => {
        const one = newConversation().conversation;
        const two = newConversation().conversation;
        await store.ensureConversation(one);
        await store.ensureConversation(two);
        const ones = thread(one, [5, 9, 23]);
        const twos = thread(two, [7, 8]);
        for (const m of [...ones, ...twos]) await store.appendMessage(m);
        expect(await store.messagesAfter(one.id, 0, 10)).toEqual(ones);
        expect(await store.messagesBefore(two.id, 100, 10)).toEqual(twos);
        expect(await store.headSeq(one.id)).toBe(23);
        expect(await store.headSeq(two.id)).toBe(8);
        expect(await store.lastSeqBefore(one.id, 9)).toBe(5);
        expect(await store.findDedup(two.id, ones[0]!.clientMsgId)).toBeUndefined();
        expect((await store.listConversations(two.userA))[0]?.lastMessage).toEqual(twos[1]);
      });
    });

    describeMessageStoreState(() => ({ store, fixture }));
  });
}
