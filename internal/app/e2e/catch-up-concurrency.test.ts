import { describe, expect, test } from "bun:test";
import { messagesOf, textOf } from "./event-helpers.ts";
import { newDevice } from "./raw-device.ts";
import { useTestServer } from "./test-servers.ts";

describe("bounded catch-up [embedded]", () => {
  // One catch-up at a time: every other opening waits for the slot.
  const server = useTestServer("embedded", { gateway: { catchUpConcurrency: 1 } });

  test("devices opening together each get their Welcome at once and their whole backlog, one catch-up after another", async () => {
    const url = server().url;
    const sender = await newDevice(url, "cc_sender");
    const readers = await Promise.all(Array.from({ length: 6 }, (_, i) => newDevice(url, `cc_reader${i}`)));
    const conversations: string[] = [];
    for (let i = 0; i < readers.length; i++) {
      const { conversation } = await sender.chat.startConversation({ peer: { case: "peerUsername", value: `cc_reader${i}` } });
      conversations.push(conversation!.conversationId);
      for (let m = 0; m < 5; m++) {
        await sender.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId: conversation!.conversationId, text: `${i}.${m}` });
      }
    }
    // Wait until the worker stored the last message (the history answers it).
    const last = conversations.at(-1)!;
    for (let attempt = 0; attempt < 100; attempt++) {
      const h = await sender.chat.getHistory({ conversationId: last, forward: true, afterSeq: 0n, limit: 10 });
      if (h.messages.length === 5) break;
      await Bun.sleep(50);
    }
    await Promise.all(readers.map((r) => r.connect()));
    readers.forEach((r, i) => {
      expect(r.events.some((e) => e.event.case === "welcome")).toBe(true);
      expect(messagesOf(r.events, conversations[i]).map(textOf)).toEqual([0, 1, 2, 3, 4].map((m) => `${i}.${m}`));
    });
    // The slot is free again: a later opening is not stuck behind the earlier ones.
    await readers[0]!.disconnect();
    await readers[0]!.connect();
  });
});
