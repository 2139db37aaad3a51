import { expect, test } from "bun:test";
import type { ServerEvent } from "../../../gen/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "../../../gen/chat/v1/types_pb.ts";
import { newDevice } from "./raw-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

const GRACE_MS = 400;

const presenceOf = (userId: string) => (events: readonly ServerEvent[]) =>
  events.flatMap((e) => (e.event.case === "presence" ? e.event.value.presences.filter((p) => p.userId === userId) : []));

describeEachMode("presence", (mode) => {
  const server = useTestServer(mode, { presence: { graceMs: GRACE_MS, fanoutIntervalMs: 20 } });

  test("online while connected, last seen after the grace period, invisible flaps, hidden from non-peers", async () => {
    const alice = await newDevice(server().url, "pr_alice");
    const bob = await newDevice(server().url, "pr_bob");
    const carol = await newDevice(server().url, "pr_carol");
    await alice.chat.startConversation({ peer: { case: "peerUsername", value: "pr_bob" } });
    await carol.chat.startConversation({ peer: { case: "peerUsername", value: "pr_bob" } });
    const seen = presenceOf(alice.userId);

    await bob.connect();
    bob.send({ case: "watchPresence", value: { userIds: [alice.userId] } });
    await bob.waitFor((e) => seen([e]).length > 0);
    expect(seen(bob.events).at(-1)!.online).toBe(false);

    await alice.connect();
    await bob.waitFor((e) => seen([e]).some((p) => p.online));
    expect(seen(bob.events).filter((p) => p.online).length).toBe(1);

    // Flap: gone and back well inside the grace period -> nothing visible.
    const beforeFlap = seen(bob.events).length;
    for (let i = 0; i < 3; i++) {
      await alice.disconnect();
      await alice.connect();
    }
    await Bun.sleep(GRACE_MS * 2);
    expect(seen(bob.events).slice(beforeFlap)).toEqual([]);

    // Really gone: one "offline" after the grace, with last seen = the disconnect time.
    const mark = bob.events.length;
    const t0 = Date.now();
    await alice.disconnect();
    await bob.waitFor((e) => seen([e]).some((p) => !p.online), GRACE_MS * 10, mark);
    const announcedBy = Date.now();
    expect(seen(bob.events.slice(mark)).length).toBe(1);
    const offline = seen(bob.events).filter((p) => !p.online).at(-1)!;
    // Last seen is when the gateway saw the stream end (not when the grace ran
    // out): after the disconnect began, and at least a grace period before the
    // announcement. (The gateway may be another process: it can see the end
    // after the client's own stream has finished, so that is no bound.)
    expect(Number(offline.lastSeenMs)).toBeGreaterThanOrEqual(t0 - 5);
    expect(Number(offline.lastSeenMs)).toBeLessThanOrEqual(announcedBy - GRACE_MS + 5);
    const polled = await bob.chat.getPresence({ userIds: [alice.userId] });
    expect(polled.presences[0]!.online).toBe(false);
    expect(polled.presences[0]!.lastSeenMs).toBe(offline.lastSeenMs);

    // Carol shares no conversation with alice: refused on the stream, nothing streamed.
    await carol.connect();
    carol.send({ case: "watchPresence", value: { userIds: [alice.userId] } });
    const err = await carol.waitFor((e) => e.event.case === "error");
    expect(err.event.case === "error" && err.event.value.reason).toBe(ErrorReason.NOT_A_PEER);
    await alice.connect();
    await bob.waitFor((e) => seen([e]).some((p) => p.online), 5_000, bob.events.length - 1);
    expect(seen(carol.events)).toEqual([]);
    // The conversation list carries the peer's presence too.
    const list = await bob.chat.listConversations({});
    const withAlice = list.conversations.find((c) => c.peerUserId === alice.userId)!;
    expect(withAlice.peerPresence!.online).toBe(true);
    await Promise.all([alice.disconnect(), bob.disconnect(), carol.disconnect()]);
  });
});
