import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedServer, type RunningServer } from "../app/index.ts";
import type { ChatEvent } from "./chat-events.ts";
import { openDevice, registerUser, texts, uniqueName, type TestDevice } from "./client-test-kit.ts";
import { createSqliteStorage } from "./sqlite/index.ts";
import type { ReceiveMode } from "./stream-link.ts";

const waitMs = 10_000;
const recentWindow = 5;
let server: RunningServer;
let dir: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  server = await startEmbeddedServer({ gateway: { recentWindow } });
  dir = await mkdtemp(join(tmpdir(), "chat-client-durability-"));
});
afterAll(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop().catch(() => undefined)));
  await server.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function users() {
  const [aliceName, bobName] = [uniqueName("alice"), uniqueName("bob")];
  await registerUser(server.url, aliceName);
  await registerUser(server.url, bobName);
  return { aliceName, bobName };
}

const dbPath = (name: string): string => join(dir, `${name}-${crypto.randomUUID()}.sqlite`);

describe.each(["bidi", "subscribe"] as const)("durability in %s mode", (mode: ReceiveMode) => {
  test("messages composed offline are delivered in order, once each, when the device connects", async () => {
    const { aliceName, bobName } = await users();
    const alice = await openDevice(server.url, { username: aliceName, mode, offline: true });
    const bob = await openDevice(server.url, { username: bobName, mode });
    devices.push(alice, bob);
    const { conversationId } = await alice.client.startConversation({ username: bobName });
    const sent = ["first", "second", "third", "fourth"];
    for (const text of sent) await alice.client.send(conversationId, text);
    expect(alice.client.messages(conversationId).map((m) => m.tick)).toEqual(["pending", "pending", "pending", "pending"]);

    alice.start();
    await bob.client.waitFor(() => texts(bob.client, conversationId).length === sent.length, waitMs, "bob has all");
    expect(texts(bob.client, conversationId)).toEqual(sent);
  });

  test("a device restarted from its SQLite file keeps its outbox and resumes from its cursors", async () => {
    const { aliceName, bobName } = await users();
    const alicePath = dbPath("alice");
    const bobPath = dbPath("bob");
    let alice = await openDevice(server.url, { username: aliceName, mode, offline: true, storage: createSqliteStorage({ path: alicePath }) });
    let bob = await openDevice(server.url, { username: bobName, mode, storage: createSqliteStorage({ path: bobPath }) });
    const { conversationId } = await alice.client.startConversation({ username: bobName });
    for (const text of ["a1", "a2", "a3"]) await alice.client.send(conversationId, text);
    await alice.stop(); // never connected: the three messages exist only in the file

    alice = await openDevice(server.url, {
      username: aliceName,
      mode,
      deviceId: alice.session.deviceId,
      storage: createSqliteStorage({ path: alicePath }),
    });
    devices.push(alice);
    expect(texts(alice.client, conversationId)).toEqual(["a1", "a2", "a3"]);
    await bob.client.waitFor(() => texts(bob.client, conversationId).length === 3, waitMs, "bob has a1-a3");
    await bob.stop();

    for (const text of ["a4", "a5"]) await alice.client.send(conversationId, text);
    await alice.client.waitFor(
      () => alice.client.messages(conversationId).every((m) => m.seq !== undefined),
      waitMs,
      "a4, a5 sequenced",
    );
    bob = await openDevice(server.url, {
      username: bobName,
      mode,
      deviceId: bob.session.deviceId,
      storage: createSqliteStorage({ path: bobPath }),
      offline: true,
    });
    devices.push(bob);
    const synced: ChatEvent[] = [];
    bob.client.on((e) => e.type === "sync-complete" && synced.push(e));
    bob.start();
    await bob.client.waitFor(() => synced.length > 0, waitMs, "bob synced");
    // Resumed from its cursor: only the two new messages travelled.
    expect(synced[0]).toMatchObject({ messages: 2 });
    expect(texts(bob.client, conversationId)).toEqual(["a1", "a2", "a3", "a4", "a5"]);
  });

  test("a new device gets the recent window and pages older history on demand", async () => {
    const { aliceName, bobName } = await users();
    const alice = await openDevice(server.url, { username: aliceName, mode });
    devices.push(alice);
    const { conversationId } = await alice.client.startConversation({ username: bobName });
    const sent = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const text of sent) await alice.client.send(conversationId, text);
    await alice.client.waitFor(() => alice.client.messages(conversationId).every((m) => m.seq !== undefined), waitMs, "sequenced");

    const bob = await openDevice(server.url, { username: bobName, mode });
    devices.push(bob);
    await bob.client.waitFor(() => bob.client.connectionState() === "live", waitMs, "bob live");
    expect(texts(bob.client, conversationId)).toEqual(sent.slice(-recentWindow));
    expect(bob.client.conversation(conversationId)?.hasOlder).toBe(true);

    for (let page = 0; page < 10 && bob.client.conversation(conversationId)?.hasOlder; page++) {
      await bob.client.loadOlder(conversationId, 3);
    }
    expect(texts(bob.client, conversationId)).toEqual(sent);
    expect(bob.client.conversation(conversationId)?.hasOlder).toBe(false);
  });

  test("a cursor the server cannot continue from resets the conversation to the server's window", async () => {
    const { aliceName, bobName } = await users();
    const bobPath = dbPath("bob");
    const alice = await openDevice(server.url, { username: aliceName, mode });
    devices.push(alice);
    let bob = await openDevice(server.url, { username: bobName, mode, storage: createSqliteStorage({ path: bobPath }) });
    const { conversationId } = await alice.client.startConversation({ username: bobName });
    await alice.client.send(conversationId, "real");
    await bob.client.waitFor(() => texts(bob.client, conversationId).length === 1, waitMs, "bob has it");
    await bob.stop({ keepStorage: true });
    // As if the device's data came from another epoch: a cursor beyond the head.
    const stale = { conversationId, seq: 9_000_000_000, prevSeq: 8_000_000_000, senderUserId: "u-ghost", senderDeviceId: "d", clientMsgId: "ghost", text: "ghost", sentAtMs: 1 };
    await bob.storage.putMessages([stale]);
    await bob.storage.setCursor(conversationId, stale.seq);
    await bob.storage.close();

    bob = await openDevice(server.url, {
      username: bobName,
      mode,
      deviceId: bob.session.deviceId,
      storage: createSqliteStorage({ path: bobPath }),
      offline: true,
    });
    devices.push(bob);
    const resets: string[] = [];
    bob.client.on((e) => e.type === "reset" && resets.push(e.conversationId));
    bob.start();
    await bob.client.waitFor(() => bob.client.connectionState() === "live", waitMs, "bob live");
    expect(resets).toEqual([conversationId]);
    expect(texts(bob.client, conversationId)).toEqual(["real"]);
  });
});

describe("network cut", () => {
  test("messages composed while the server is down are delivered after it comes back", async () => {
    const own = await startEmbeddedServer({});
    try {
      const [aliceName, bobName] = [uniqueName("alice"), uniqueName("bob")];
      await registerUser(own.url, aliceName);
      await registerUser(own.url, bobName);
      const alice = await openDevice(own.url, { username: aliceName, mode: "bidi" });
      const bob = await openDevice(own.url, { username: bobName, mode: "subscribe" });
      devices.push(alice, bob);
      const { conversationId } = await alice.client.startConversation({ username: bobName });
      await alice.client.send(conversationId, "before");
      await bob.client.waitFor(() => texts(bob.client, conversationId).length === 1, waitMs, "before arrives");

      await own.stop();
      await alice.client.waitFor(() => alice.client.connectionState() === "waiting", waitMs, "alice lost the server");
      for (const text of ["during 1", "during 2"]) await alice.client.send(conversationId, text);

      const again = await startEmbeddedServer({ dataDir: own.config.dataDir, port: own.port });
      try {
        await bob.client.waitFor(() => texts(bob.client, conversationId).length === 3, waitMs * 2, "all arrive");
        expect(texts(bob.client, conversationId)).toEqual(["before", "during 1", "during 2"]);
      } finally {
        await alice.stop();
        await bob.stop();
        await again.destroy();
      }
    } finally {
      await own.destroy();
    }
  });
});

describe("rate limiting", () => {
  const burst = Array.from({ length: 30 }, (_, i) => `r${i}`);
  const run = async (mode: ReceiveMode) => {
    const own = await startEmbeddedServer({ gateway: { sendBurst: 3, sendRatePerSec: 20 } });
    try {
      const [aliceName, bobName] = [uniqueName("alice"), uniqueName("bob")];
      await registerUser(own.url, aliceName);
      await registerUser(own.url, bobName);
      const alice = await openDevice(own.url, { username: aliceName, mode });
      const bob = await openDevice(own.url, { username: bobName, mode: "bidi" });
      devices.push(alice, bob);
      const { conversationId } = await alice.client.startConversation({ username: bobName });
      for (const text of burst) await alice.client.send(conversationId, text);
      await bob.client.waitFor(() => texts(bob.client, conversationId).length === burst.length, waitMs * 2, "all arrive");
      expect(texts(bob.client, conversationId)).toEqual(burst);
      await alice.stop();
      await bob.stop();
    } finally {
      await own.destroy();
    }
  };

  test("rate-limited sends in subscribe mode are retried and keep their order", () => run("subscribe"));

  // Skipped: the gateway answers a rate-limited bidi send with a StreamError
  // and keeps the stream, so sends pipelined behind it overtake it. The client
  // restarts the stream to resend from the outbox head, but cannot undo the
  // overtaking. Needs the gateway to end the stream (as for LOG_UNAVAILABLE).
  test("rate-limited sends in bidi mode keep their order", () =>
    run("bidi"));
});
