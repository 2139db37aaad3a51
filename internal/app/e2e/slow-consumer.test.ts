import { expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { assertChain, messagesOf, textOf } from "./event-helpers.ts";
import { newDevice } from "./raw-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

const QUEUE_LIMIT = 32;

describeEachMode("slow consumer", (mode) => {
  const server = useTestServer(mode, {
    gateway: { outboundQueueLimit: QUEUE_LIMIT, sendRatePerSec: 100_000, sendBurst: 100_000, maxBodyBytes: 16_384 },
  });

  test("a device that stops reading is cut off (bounded queue) and catches up from its cursor afterwards", async () => {
    const { url, embedded } = server();
    const alice = await newDevice(url, "sc_alice");
    const bob = await newDevice(url, "sc_bob");
    const conversationId = (await alice.chat.startConversation({ peer: { case: "peerUsername", value: "sc_bob" } })).conversation!
      .conversationId;

    // Bob's native client connects, syncs, then stops reading (paused stream).
    const def = protoLoader.loadSync(join(import.meta.dir, "../../../proto/chat/v1/chat_service.proto"), {
      includeDirs: [join(import.meta.dir, "../../../proto")],
      longs: String,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as any;
    const client = new pkg.chat.v1.ChatService(url.replace("http://", ""), grpc.credentials.createInsecure());
    const call = client.Connect();
    let synced = false;
    let status: grpc.StatusObject | undefined;
    call.on("data", (r: any) => {
      if (r.event?.event === "syncComplete") {
        synced = true;
        call.pause();
      }
    });
    call.on("status", (s: grpc.StatusObject) => (status = s));
    call.on("error", () => undefined);
    call.write({ hello: { token: bob.token } });
    const deadline = Date.now() + 5_000;
    while (!synced && Date.now() < deadline) await Bun.sleep(5);
    expect(synced).toBe(true);
    const inHub = () => embedded?.app.gateway!.hub.get(bob.deviceId as never) !== undefined;
    if (embedded) expect(inHub()).toBe(true);

    // Alice sends far more than the queue and the transport windows can hold.
    // How much the transport buffers before backpressure reaches the session
    // depends on the client library's windows, so send until the cut (bounded).
    // The cut shows in the embedded hub; with the gateway in another process,
    // on the client side (grpc-js reports a non-OK status even while paused).
    const connected = () => status === undefined && (!embedded || inHub());
    const text = "x".repeat(8_000);
    let sent = 0;
    const cutDeadline = Date.now() + 20_000;
    while (connected() && sent < 3_000 && Date.now() < cutDeadline) {
      await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `${sent}:${text}` });
      sent++;
      if (sent % 100 === 0) await Bun.sleep(20); // let the worker and the pushes catch up
    }
    while (connected() && Date.now() < cutDeadline) await Bun.sleep(20);
    if (embedded) expect(inHub()).toBe(false);
    call.resume();
    const end = Date.now() + 5_000;
    while (!status && Date.now() < end) await Bun.sleep(20);
    expect(status?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status?.details).toContain("SLOW_CONSUMER");
    client.close();

    // Reconnecting from its cursor (empty at first), bob gets everything, in order.
    // While the worker still pushes a backlog (another process may lag the log
    // by hundreds of messages), a catch-up can be cut again: like the SDK, bob
    // then reconnects from the last message he holds.
    const held = () => messagesOf(bob.events, conversationId);
    const syncDeadline = Date.now() + 30_000;
    for (let attempt = 0; attempt < 20 && held().length < sent && Date.now() < syncDeadline; attempt++) {
      const cursor = Number(held().at(-1)?.seq ?? 0);
      try {
        await bob.connect([{ conversationId, seq: cursor }]);
      } catch {
        await bob.disconnect();
        continue;
      }
      while (bob.streaming && held().length < sent && Date.now() < syncDeadline) await Bun.sleep(20);
      await bob.disconnect();
    }
    const got = held();
    expect(got.length).toBe(sent);
    expect(textOf(got.at(-1)!)).toBe(`${sent - 1}:${text}`);
    assertChain(got);
  });
});
