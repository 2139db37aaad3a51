import { afterAll, beforeAll, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { startEmbeddedServer, type RunningServer } from "../index.ts";
import { assertChain, isMessage, messagesOf } from "./event-helpers.ts";
import { newDevice } from "./raw-device.ts";

const QUEUE_LIMIT = 32;
let server: RunningServer;
beforeAll(async () => {
  server = await startEmbeddedServer({
    gateway: { outboundQueueLimit: QUEUE_LIMIT, sendRatePerSec: 100_000, sendBurst: 100_000, maxBodyBytes: 16_384 },
  });
});
afterAll(() => server.destroy());

test("a device that stops reading is cut off (bounded queue) and catches up from its cursor afterwards", async () => {
  const alice = await newDevice(server.url, "sc_alice");
  const bob = await newDevice(server.url, "sc_bob");
  const conversationId = (await alice.chat.startConversation({ peer: { case: "peerUsername", value: "sc_bob" } })).conversation!
    .conversationId;

  // Bob's native client connects, syncs, then stops reading (paused stream).
  const def = protoLoader.loadSync(join(import.meta.dir, "../../../proto/chat/v1/chat_service.proto"), {
    includeDirs: [join(import.meta.dir, "../../../proto")],
    longs: String,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const client = new pkg.chat.v1.ChatService(server.url.replace("http://", ""), grpc.credentials.createInsecure());
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
  expect(server.app.gateway!.hub.get(bob.deviceId as never)).toBeDefined();

  // Alice sends far more than the queue and the transport windows can hold.
  // How much the transport buffers before backpressure reaches the session
  // depends on the client library's windows, so send until the cut (bounded).
  const text = "x".repeat(8_000);
  const connected = () => server.app.gateway!.hub.get(bob.deviceId as never) !== undefined;
  let sent = 0;
  const cutDeadline = Date.now() + 20_000;
  while (connected() && sent < 3_000 && Date.now() < cutDeadline) {
    await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `${sent}:${text}` });
    sent++;
    if (sent % 100 === 0) await Bun.sleep(20); // let the worker and the pushes catch up
  }
  while (connected() && Date.now() < cutDeadline) await Bun.sleep(20);
  expect(server.app.gateway!.hub.get(bob.deviceId as never)).toBeUndefined();
  call.resume();
  const end = Date.now() + 5_000;
  while (!status && Date.now() < end) await Bun.sleep(20);
  expect(status?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(status?.details).toContain("SLOW_CONSUMER");
  client.close();

  // Reconnecting from its (empty) cursor, bob gets everything, in order.
  await bob.connect([{ conversationId, seq: 0 }]);
  await bob.waitFor(isMessage(`${sent - 1}:${text}`), 20_000);
  const got = messagesOf(bob.events, conversationId);
  expect(got.length).toBe(sent);
  assertChain(got);
  await bob.disconnect();
});
