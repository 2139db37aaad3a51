import { describe, expect, test } from "bun:test";
import { createMemoryStorage } from "./memory-storage.ts";
import { openOutbox } from "./outbox.ts";
import { createSendPump } from "./send-pump.ts";
import type { StreamLink } from "./stream-link.ts";

/** A link that records the client_msg_ids handed to it. */
function recordingLink(): StreamLink & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    events: (async function* () {})(),
    carriesPings: true,
    send: (entry) => void sent.push(entry.clientMsgId),
    ack: () => undefined,
    markRead: () => undefined,
    setTyping: () => undefined,
    watchPresence: () => undefined,
    ping: () => undefined,
    close: () => undefined,
  };
}

async function setup(maxInFlight: number, ids: string[]) {
  const outbox = await openOutbox(createMemoryStorage());
  for (const id of ids) await outbox.enqueue({ clientMsgId: id, conversationId: "c", text: id, createdAtMs: 0 });
  return { outbox, pump: createSendPump({ maxInFlight }, { outbox }) };
}

describe("send pump", () => {
  test("hands queued entries oldest first, at most maxInFlight unaccepted", async () => {
    const { outbox, pump } = await setup(2, ["k1", "k2", "k3", "k4"]);
    const link = recordingLink();
    pump.attach(link);
    expect(link.sent).toEqual(["k1", "k2"]);
    await outbox.accept("k1");
    pump.kick();
    expect(link.sent).toEqual(["k1", "k2", "k3"]);
    await outbox.fail("k2", "BODY_TOO_LARGE");
    await outbox.accept("k3");
    pump.kick();
    expect(link.sent).toEqual(["k1", "k2", "k3", "k4"]);
  });

  test("a new stream resends every unaccepted entry from the head of the outbox, in order", async () => {
    const { outbox, pump } = await setup(10, ["k1", "k2", "k3"]);
    const first = recordingLink();
    pump.attach(first);
    await outbox.accept("k1");
    pump.detach();
    await outbox.enqueue({ clientMsgId: "k4", conversationId: "c", text: "k4", createdAtMs: 0 });
    pump.kick(); // no link: nothing to do
    const second = recordingLink();
    pump.attach(second);
    expect(first.sent).toEqual(["k1", "k2", "k3"]);
    expect(second.sent).toEqual(["k2", "k3", "k4"]);
  });

  test("an entry settled by its sequenced copy is not sent again", async () => {
    const { outbox, pump } = await setup(10, ["k1", "k2"]);
    outbox.settled([{ conversationId: "c", clientMsgId: "k1" }]);
    const link = recordingLink();
    pump.attach(link);
    expect(link.sent).toEqual(["k2"]);
  });
});
