import { describe, expect, test } from "bun:test";
import {
  asConversationId,
  peerOf,
  type Conversation,
  type Seq,
  type UserId,
  type Watermarks,
} from "../domain/index.ts";
import type { MessageStore } from "./message-store.ts";
import {
  conversationBetween,
  messageAt,
  newConversation,
  thread,
  uniqueDevice,
  uniqueUser,
  type StoreFixture,
} from "./store-fixture.ts";

type Current = () => { store: MessageStore; fixture: StoreFixture<MessageStore> };

/**
 * The per-user state half of the MessageStore contract: list entries, unread
 * counts, receipt watermarks, device cursors, and survival across reopen.
 * Registered by describeMessageStore, which owns the fixture lifecycle.
 */
export function describeMessageStoreState(current: Current): void {
  describe("list entries", () => {
    test("the list entry of both users follows the newest message", async () => {
      const { store } = current();
      const { conversation, a, b } = newConversation();
      await store.ensureConversation(conversation);
      const [m5, m9] = thread(conversation, [5, 9]);
      await store.appendMessage(m5!);
      await store.appendMessage(m9!);
      for (const user of [a, b]) {
        const [entry] = await store.listConversations(user);
        expect(entry?.headSeq).toBe(9);
        expect(entry?.lastMessage).toEqual(m9);
      }
    });

    test("an older message appended after a newer one does not move the list entry back", async () => {
      const { store } = current();
      const { conversation, a, b } = newConversation();
      await store.ensureConversation(conversation);
      const [m9, m23] = thread(conversation, [9, 23]);
      await store.appendMessage(m23!);
      await store.appendMessage(m9!);
      for (const user of [a, b]) {
        const [entry] = await store.listConversations(user);
        expect(entry?.headSeq).toBe(23);
        expect(entry?.lastMessage).toEqual(m23);
      }
    });

    // a sends 5, 9 and 40; b sends 23. b's unread counts a's messages above
    // b's read watermark; b's own 23 never counts, and a's count ignores b's reads.
    test.each([
      [0, 3],
      [5, 2],
      [9, 1],
      [23, 1],
      [40, 0],
    ])("with the reader's read watermark at %p the unread count is %p", async (readSeq, unread) => {
      const { store } = current();
      const { conversation, a, b } = newConversation();
      await store.ensureConversation(conversation);
      const senders: Array<[Seq, UserId]> = [[5, a], [9, a], [23, b], [40, a]];
      for (const [i, [seq, from]] of senders.entries()) {
        await store.appendMessage(messageAt(conversation, seq, senders[i - 1]?.[0] ?? 0, from));
      }
      if (readSeq > 0) await store.advanceWatermarks(conversation.id, b, { readSeq });
      expect((await store.listConversations(b))[0]?.unreadCount).toBe(unread);
      expect((await store.listConversations(a))[0]?.unreadCount).toBe(1);
    });

    test("the summary carries the user's own and the peer's watermarks", async () => {
      const { store } = current();
      const { conversation, a, b } = newConversation();
      await store.ensureConversation(conversation);
      for (const m of thread(conversation, [5, 9])) await store.appendMessage(m);
      await store.advanceWatermarks(conversation.id, b, { deliveredSeq: 9, readSeq: 5 });
      const [ofA] = await store.listConversations(a);
      const [ofB] = await store.listConversations(b);
      expect([ofA?.own, ofA?.peer]).toEqual([{ deliveredSeq: 0, readSeq: 0 }, { deliveredSeq: 9, readSeq: 5 }]);
      expect([ofB?.own, ofB?.peer]).toEqual([{ deliveredSeq: 9, readSeq: 5 }, { deliveredSeq: 0, readSeq: 0 }]);
    });

    test("lists the most recently active conversation first, then the most recently created", async () => {
      const { store } = current();
      const user = uniqueUser("owner");
      const [c1, c2, c3] = [100, 200, 300].map((at) => conversationBetween(user, uniqueUser("peer"), at)) as [
        Conversation,
        Conversation,
        Conversation,
      ];
      for (const c of [c1, c2, c3]) await store.ensureConversation(c);
      const order = async () => (await store.listConversations(user)).map((s) => s.conversation.id);

      expect(await order()).toEqual([c3.id, c2.id, c1.id]);
      await store.appendMessage(messageAt(c1, 50, 0, user, 1_000));
      expect(await order()).toEqual([c1.id, c3.id, c2.id]);
      await store.appendMessage(messageAt(c2, 60, 0, peerOf(c2, user), 2_000));
      expect(await order()).toEqual([c2.id, c1.id, c3.id]);
      // A late write of an older message is not new activity.
      await store.appendMessage(messageAt(c1, 10, 0, user, 5_000));
      expect(await order()).toEqual([c2.id, c1.id, c3.id]);
    });
  });

  describe("watermarks", () => {
    test("advanceWatermarks raises each watermark to the max, and read raises delivered", async () => {
      const { store } = current();
      const { conversation, a, b } = newConversation();
      await store.ensureConversation(conversation);
      const steps: Array<[{ deliveredSeq?: Seq; readSeq?: Seq }, Watermarks]> = [
        [{ deliveredSeq: 5 }, { deliveredSeq: 5, readSeq: 0 }],
        [{ readSeq: 3 }, { deliveredSeq: 5, readSeq: 3 }],
        [{ deliveredSeq: 2 }, { deliveredSeq: 5, readSeq: 3 }],
        [{ readSeq: 9 }, { deliveredSeq: 9, readSeq: 9 }],
        [{ deliveredSeq: 7, readSeq: 1 }, { deliveredSeq: 9, readSeq: 9 }],
        [{}, { deliveredSeq: 9, readSeq: 9 }],
        [{ deliveredSeq: 20 }, { deliveredSeq: 20, readSeq: 9 }],
      ];
      for (const [to, expected] of steps) {
        const returned = await store.advanceWatermarks(conversation.id, a, to);
        // At least what was asked for (read raising delivered), at most what is stored.
        const read = to.readSeq ?? 0;
        expect(returned.readSeq).toBeGreaterThanOrEqual(read);
        expect(returned.deliveredSeq).toBeGreaterThanOrEqual(Math.max(to.deliveredSeq ?? 0, read));
        expect(returned.readSeq).toBeLessThanOrEqual(expected.readSeq);
        expect(returned.deliveredSeq).toBeLessThanOrEqual(expected.deliveredSeq);
        expect(await store.getWatermarks(conversation.id)).toEqual(new Map([[a, expected]]));
      }
      await store.advanceWatermarks(conversation.id, b, { deliveredSeq: 4 });
      expect(await store.getWatermarks(conversation.id)).toEqual(
        new Map([
          [a, { deliveredSeq: 20, readSeq: 9 }],
          [b, { deliveredSeq: 4, readSeq: 0 }],
        ]),
      );
    });

    test("getWatermarks is empty before anyone advanced and is kept per conversation", async () => {
      const { store } = current();
      const one = newConversation().conversation;
      const two = newConversation().conversation;
      await store.advanceWatermarks(one.id, one.userA, { readSeq: 8 });
      expect(await store.getWatermarks(two.id)).toEqual(new Map());
      expect(await store.getWatermarks(one.id)).toEqual(new Map([[one.userA, { deliveredSeq: 8, readSeq: 8 }]]));
    });
  });

  describe("device cursors", () => {
    test("advanceDeviceCursor keeps the max per device and conversation", async () => {
      const { store } = current();
      const [phone, laptop] = [uniqueDevice("phone"), uniqueDevice("laptop")];
      const [one, two] = [asConversationId(`c1_${phone}`), asConversationId(`c2_${phone}`)];
      for (const seq of [5, 3, 9, 7]) await store.advanceDeviceCursor(phone, one, seq);
      await store.advanceDeviceCursor(phone, two, 4);
      await store.advanceDeviceCursor(laptop, one, 2);
      expect(await store.getDeviceCursors(phone)).toEqual(new Map([[one, 9], [two, 4]]));
      expect(await store.getDeviceCursors(laptop)).toEqual(new Map([[one, 2]]));
    });

    test("getDeviceCursors is empty for an unknown device", async () => {
      const { store } = current();
      expect(await store.getDeviceCursors(uniqueDevice("none"))).toEqual(new Map());
    });
  });

  describe("durability", () => {
    test("reopening keeps conversations, messages, dedup records, lists, watermarks and cursors", async () => {
      const { store, fixture } = current();
      if (!fixture.reopen) {
        console.info("skipped reopen case: this fixture has no reopen (its data does not outlive the store)");
        return;
      }
      const { conversation, a, b } = newConversation();
      const device = uniqueDevice("d");
      const messages = thread(conversation, [5, 9, 23]);
      await store.ensureConversation(conversation);
      for (const m of messages) await store.appendMessage(m);
      await store.advanceWatermarks(conversation.id, b, { deliveredSeq: 23, readSeq: 9 });
      await store.advanceDeviceCursor(device, conversation.id, 23);
      const listsBefore = [await store.listConversations(a), await store.listConversations(b)];

      const reopened = await fixture.reopen();
      expect(await reopened.getConversation(conversation.id)).toEqual(conversation);
      expect(await reopened.messagesAfter(conversation.id, 0, 10)).toEqual(messages);
      expect(await reopened.findDedup(conversation.id, messages[1]!.clientMsgId)).toBe(9);
      expect(await reopened.headSeq(conversation.id)).toBe(23);
      expect([await reopened.listConversations(a), await reopened.listConversations(b)]).toEqual(listsBefore);
      expect(await reopened.getWatermarks(conversation.id)).toEqual(
        new Map([[b, { deliveredSeq: 23, readSeq: 9 }]]),
      );
      expect(await reopened.getDeviceCursors(device)).toEqual(new Map([[conversation.id, 23]]));
    });
  });
}
