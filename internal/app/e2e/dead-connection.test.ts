import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTcpProxy, type TcpProxy } from "../../faults/index.ts";
import { startEmbeddedServer, type RunningServer } from "../index.ts";
import { openSdkDevice } from "./sdk-device.ts";

const HEARTBEAT_MS = 200;
const IDLE_MS = 800;
let server: RunningServer;
let proxy: TcpProxy;
beforeAll(async () => {
  server = await startEmbeddedServer({ gateway: { heartbeatIntervalMs: HEARTBEAT_MS, idleTimeoutMs: IDLE_MS } });
  proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
});
afterAll(async () => {
  await proxy.close();
  await server.destroy();
});

test.each(["bidi", "subscribe"] as const)(
  "a half-open connection (%s) is detected within the idle bound; what was pushed into it is not delivered until the device is back",
  async (mode) => {
    const bob = await openSdkDevice(proxy.url, `dc_bob_${mode}`, mode, { openTimeoutMs: 1_000 });
    const alice = await openSdkDevice(server.url, `dc_alice_${mode}`);
    const { conversationId } = await alice.client.startConversation({ username: `dc_bob_${mode}` });
    await bob.client.waitFor(() => bob.client.connectionState() === "live", 5_000);
    const hub = server.app.gateway!.hub;
    expect(hub.get(bob.deviceId as never)).toBeDefined();

    proxy.setMode("blackhole"); // bob's peer vanished without FIN: bytes go nowhere, no error
    const cutAt = Date.now();
    const { clientMsgId } = await alice.client.send(conversationId, "into the void");
    // The server drops bob's session by itself (pings/heartbeats unanswered).
    while (hub.get(bob.deviceId as never) && Date.now() - cutAt < IDLE_MS * 10) await Bun.sleep(20);
    expect(hub.get(bob.deviceId as never)).toBeUndefined();
    // Written to a socket is not delivered: alice still sees one tick.
    await alice.client.waitFor(() => alice.client.messageState(conversationId, clientMsgId) === "sent", 5_000);
    await Bun.sleep(HEARTBEAT_MS * 2);
    expect(alice.client.messageState(conversationId, clientMsgId)).toBe("sent");

    proxy.setMode("pass");
    await bob.client.waitFor(() => bob.client.messages(conversationId).some((m) => m.text === "into the void"), 15_000);
    await alice.client.waitFor(() => alice.client.messageState(conversationId, clientMsgId) === "delivered", 5_000);
    await Promise.all([alice.stop(), bob.stop()]);
  },
  40_000,
);
