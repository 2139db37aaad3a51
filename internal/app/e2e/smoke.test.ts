import { expect, test } from "bun:test";
import { newDevice } from "./raw-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

describeEachMode("smoke", (mode) => {
  const server = useTestServer(mode);

  test("a message sent on one bidi stream reaches the peer and the sender's echo, and acks move delivered", async () => {
    const alice = await newDevice(server().url, "smoke_alice");
    const bob = await newDevice(server().url, "smoke_bob");
    const { conversation } = await alice.chat.startConversation({ peer: { case: "peerUsername", value: "smoke_bob" } });
    const conversationId = conversation!.conversationId;
    await alice.connect();
    await bob.connect();
    const clientMsgId = crypto.randomUUID();
    alice.send({ case: "send", value: { clientMsgId, conversationId, text: "hello bob" } });
    await alice.waitFor((e) => e.event.case === "sendAccepted");
    const result = await alice.waitFor((e) => e.event.case === "sendResult");
    const got = await bob.waitFor((e) => e.event.case === "message");
    expect((got as any).event.value.body.value).toBe("hello bob");
    const seq = (result as any).event.value.seq as bigint;
    expect((got as any).event.value.seq).toBe(seq);
    bob.send({ case: "ack", value: { conversationId, seq } });
    const receipt = await alice.waitFor(
      (e) => e.event.case === "receipt" && e.event.value.userId === bob.userId && e.event.value.deliveredSeq === seq,
    );
    expect(receipt).toBeDefined();
    await alice.disconnect();
    await bob.disconnect();
  });
});
