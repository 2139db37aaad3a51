import { describe, expect, test } from "bun:test";
import { ErrorReason } from "../../../gen/chat/v1/types_pb.ts";
import { messagesOf, textOf } from "./event-helpers.ts";
import { newDevice } from "./raw-device.ts";
import { useTestServer } from "./test-servers.ts";

describe("client frame batches [embedded]", () => {
  const server = useTestServer("embedded");

  test("a batch is handled frame by frame, in order: a refused frame gets its own StreamError, the rest go through", async () => {
    const alice = await newDevice(server().url, "fb_alice");
    const bob = await newDevice(server().url, "fb_bob");
    const { conversation } = await alice.chat.startConversation({ peer: { case: "peerUsername", value: "fb_bob" } });
    const conversationId = conversation!.conversationId;
    await alice.connect();
    await bob.connect();
    const welcome = alice.events.find((e) => e.event.case === "welcome");
    expect(welcome?.event.case === "welcome" && welcome.event.value.acceptsFrameBatches).toBe(true);

    const [first, refused, last] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    alice.send({
      case: "batch",
      value: {
        frames: [
          { frame: { case: "send", value: { clientMsgId: first, conversationId, text: "one" } } },
          { frame: { case: "send", value: { clientMsgId: refused, conversationId, text: "" } } },
          { frame: { case: "ping", value: { nonce: 7n } } },
          { frame: { case: "send", value: { clientMsgId: last, conversationId, text: "two" } } },
        ],
      },
    });
    const error = await alice.waitFor((e) => e.event.case === "error");
    expect(error.event.case === "error" && [error.event.value.reason, error.event.value.clientMsgId]).toEqual([
      ErrorReason.BODY_EMPTY,
      refused,
    ]);
    await alice.waitFor((e) => e.event.case === "pong");
    await bob.waitFor((e) => messagesOf([e], conversationId).some((m) => textOf(m) === "two"), 10_000);
    expect(messagesOf(bob.events, conversationId).map(textOf)).toEqual(["one", "two"]);
    // The answers come in frame order, as for frames sent one by one.
    const answers = alice.events
      .map((e) => e.event)
      .filter((e) => e.case === "sendAccepted" || e.case === "error" || e.case === "pong")
      .map((e) => (e.case === "pong" ? "pong" : `${e.case}:${e.value.clientMsgId}`));
    expect(answers).toEqual([`sendAccepted:${first}`, `error:${refused}`, "pong", `sendAccepted:${last}`]);
  });

  test("an empty batch is refused like an empty frame; a batch cannot open the stream", async () => {
    const carol = await newDevice(server().url, "fb_carol");
    await carol.connect();
    const from = carol.events.length;
    carol.send({ case: "batch", value: { frames: [] } });
    const error = await carol.waitFor((e) => e.event.case === "error", 5_000, from);
    expect(error.event.case === "error" && error.event.value.reason).toBe(ErrorReason.MALFORMED_FRAME);
    await carol.disconnect();

    const dave = await newDevice(server().url, "fb_dave");
    const opening = dave.chat.connect(
      (async function* () {
        yield { $typeName: "chat.v1.ConnectRequest", frame: { case: "batch", value: { $typeName: "chat.v1.FrameBatch", frames: [] } } } as never;
      })(),
    );
    await expect(
      (async () => {
        for await (const _ of opening) {
          /* nothing arrives before the refusal */
        }
      })(),
    ).rejects.toThrow(/HELLO_REQUIRED|first frame/);
  });
});
