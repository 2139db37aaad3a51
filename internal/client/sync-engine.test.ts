import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { ChatService, ServerEventSchema } from "../../gen/chat/v1/chat_service_pb.ts";
import { ErrorReason, type Message } from "../../gen/chat/v1/types_pb.ts";
import { startEmbeddedServer, type RunningServer } from "../app/index.ts";
import { withBearerToken } from "./auth.ts";
import { createChatEmitter, type ChatEvent } from "./chat-events.ts";
import { openDevice, registerUser, transportFor, uniqueName } from "./client-test-kit.ts";
import { openLocalReplica } from "./local-replica.ts";
import { createManualRuntime } from "./manual-runtime.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import { openOutbox } from "./outbox.ts";
import { createReceiptSender } from "./receipt-sender.ts";
import { createSendPump } from "./send-pump.ts";
import { createSerialExecutor } from "./serial-executor.ts";
import { createSyncEngine, RestartStreamError } from "./sync-engine.ts";
import { messageFromWire } from "./wire.ts";

let server: RunningServer;
beforeAll(async () => {
  server = await startEmbeddedServer();
});
afterAll(async () => {
  await server.destroy();
});

/** A sync engine of a device of `username`, over memory storage, with no stream attached. */
async function engineFor(username: string) {
  const device = await openDevice(server.url, { username, mode: "bidi", offline: true });
  const api = createClient(ChatService, withBearerToken(transportFor(server.url, "bidi"), device.session.token));
  const storage = createMemoryStorage();
  const replica = await openLocalReplica(storage);
  const outbox = await openOutbox(storage);
  const runtime = createManualRuntime();
  const emitter = createChatEmitter(runtime);
  const events: ChatEvent[] = [];
  emitter.on((e) => events.push(e));
  const receipts = createReceiptSender(
    { ackDelayMs: 20, retryDelayMs: 1_000 },
    { timers: runtime.timers, link: () => undefined, cursor: () => 0, own: () => undefined },
  );
  const serial = createSerialExecutor();
  const engine = createSyncEngine(
    { historyPageSize: 2 },
    {
      userId: device.session.userId,
      api,
      replica,
      outbox,
      pump: createSendPump({ maxInFlight: 10 }, { outbox }),
      receipts,
      serial,
      emitter,
      discovered: () => undefined,
    },
  );
  return { engine, replica, outbox, emitter, events, serial, api, stop: () => device.stop() };
}

const messageEvent = (value: Message) => create(ServerEventSchema, { event: { case: "message", value } });

describe("sync engine", () => {
  test("a live message beyond the cursor makes the device page the missing messages in with GetHistory", async () => {
    const [aliceName, bobName] = [uniqueName("alice"), uniqueName("bob")];
    await registerUser(server.url, aliceName);
    await registerUser(server.url, bobName);
    const alice = await openDevice(server.url, { username: aliceName, mode: "bidi" });
    const { conversationId } = await alice.client.startConversation({ username: bobName });
    for (let i = 1; i <= 6; i++) await alice.client.send(conversationId, `m${i}`);
    await alice.client.waitFor(() => alice.client.messages(conversationId).every((m) => m.seq !== undefined), 10_000, "sequenced");
    await alice.stop();

    const bob = await engineFor(bobName);
    const all = (await bob.api.getHistory({ conversationId, afterSeq: 0n, forward: true, limit: 100 })).messages;
    expect(all).toHaveLength(6);
    await bob.serial.run(() => bob.engine.store([messageFromWire(all[0] as Message)]));
    // m2..m5 never arrived; m6 comes live.
    await bob.serial.run(() => bob.engine.handle(messageEvent(all[5] as Message)));
    const state = bob.replica.conversation(conversationId);
    const last = messageFromWire(all[5] as Message);
    await bob.emitter.waitFor(() => state?.cursor === last.seq, 10_000, "gap filled");
    expect(state?.messages().map((m) => m.text)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
    expect(state?.gap()).toBeUndefined();
    await bob.stop();
  });

  test.each([
    { reason: ErrorReason.BODY_TOO_LARGE, code: "invalid_argument", outcome: "failed" },
    { reason: ErrorReason.NOT_A_PARTICIPANT, code: "permission_denied", outcome: "failed" },
    { reason: ErrorReason.UNSPECIFIED, code: "invalid_argument", outcome: "failed" },
    { reason: ErrorReason.RATE_LIMITED, code: "resource_exhausted", outcome: "restart" },
    { reason: ErrorReason.LOG_UNAVAILABLE, code: "unavailable", outcome: "restart" },
    { reason: ErrorReason.UNSPECIFIED, code: "unavailable", outcome: "restart" },
  ].map((row) => ({ ...row, name: ErrorReason[row.reason] })))("a StreamError $name/$code for a send: $outcome", async ({ reason, code, outcome }) => {
    const username = uniqueName("carol");
    await registerUser(server.url, username);
    const carol = await engineFor(username);
    await carol.outbox.enqueue({ clientMsgId: "k-1", conversationId: "c", text: "t", createdAtMs: 0 });
    const error = create(ServerEventSchema, {
      event: { case: "error", value: { reason, code, message: "refused", clientMsgId: "k-1" } },
    });
    const handled = carol.serial.run(() => carol.engine.handle(error));
    if (outcome === "restart") {
      await expect(handled).rejects.toBeInstanceOf(RestartStreamError);
      expect(carol.outbox.get("k-1")?.state).toBe("queued");
    } else {
      await handled;
      expect(carol.outbox.get("k-1")?.state).toBe("failed");
      expect(carol.engine.tickOf("c", "k-1")).toBe("failed");
    }
    expect(carol.events.some((e) => e.type === "server-error" && e.clientMsgId === "k-1")).toBe(true);
    await carol.stop();
  });
});
