import { afterAll, beforeAll, test } from "bun:test";
import net from "node:net";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createNativeTransport } from "../client/node/index.ts";
import { startEmbeddedServer, type RunningServer } from "../app/index.ts";
import { createChatClient, createMemoryStorage, login, register, type ChatClient, type ReceiveMode } from "../client/index.ts";
import { startTcpProxy } from "../faults/index.ts";

/*
 * Regression tests for the liveness gaps found while building the history
 * checker (docs/reliability.md, "Findings"). `test.failing` marks the one
 * that fails today: the suite stays green, and the day it is fixed it turns
 * red and must become a plain test.
 */

// Fast heartbeats: a dead stream is noticed after 3 silent intervals (~1 s).
const heartbeatIntervalMs = 300;
// Ample for a reconnect after a ~1 s detection; never reached by a working client.
const recoverWithinMs = 5_000;
let server: RunningServer;
beforeAll(async () => {
  server = await startEmbeddedServer({ gateway: { heartbeatIntervalMs, idleTimeoutMs: heartbeatIntervalMs * 3 } });
});
afterAll(async () => {
  await server.destroy();
});

/** A relay whose open connections can be made to go silent for good while new ones work (a path that died: NAT rebinding, Wi-Fi to LTE). */
async function startRelay(port: number) {
  const open = new Set<net.Socket>();
  const dead = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    open.add(client);
    client.on("data", (chunk) => void (dead.has(client) || upstream.write(chunk)));
    upstream.on("data", (chunk) => void (dead.has(client) || client.write(chunk)));
    const end = (): void => {
      open.delete(client);
      // A dead path carries no FIN or RST either: the client must find out by itself.
      if (!dead.has(client)) client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`,
    killOpenConnectionsSilently: () => open.forEach((s) => dead.add(s)),
    close: () => {
      open.forEach((s) => s.destroy());
      dead.forEach((s) => s.destroy());
      return new Promise<void>((resolve) => relay.close(() => resolve()));
    },
  };
}

/** Logs a new device in (straight to the server) and runs its client over `transport`. */
async function runDevice(mode: ReceiveMode, transport: Transport): Promise<{ client: ChatClient; stop(): Promise<void> }> {
  const direct = createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" });
  const username = `live_${crypto.randomUUID().slice(0, 8)}`;
  await register(direct, username, "liveness password");
  const session = await login(direct, { username, password: "liveness password", deviceName: "liveness" });
  const client = await createChatClient(
    { userId: session.userId, token: session.token, mode, backoff: { baseMs: 20, maxMs: 300 }, openTimeoutMs: 1_000 },
    { transport, storage: createMemoryStorage() },
  );
  const stopper = new AbortController();
  const running = client.run(stopper.signal);
  return {
    client,
    async stop() {
      stopper.abort();
      await running;
    },
  };
}

const transportFor = (mode: ReceiveMode, url: string): Transport =>
  mode === "bidi" ? createGrpcTransport({ baseUrl: url }) : createConnectTransport({ baseUrl: url, httpVersion: "1.1" });

test.each(["bidi", "subscribe"] as const)(
  "(%s) a stream opening that is never answered is given up and retried, so the device connects once the server is reachable",
  async (mode) => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: server.port });
    // A tarpit: connections are accepted, requests vanish, nothing ever answers.
    proxy.setMode("blackhole");
    const device = await runDevice(mode, transportFor(mode, proxy.url));
    try {
      await device.client.waitFor(() => device.client.connectionState() === "connecting", 2_000);
      await Bun.sleep(heartbeatIntervalMs * 4);
      proxy.setMode("pass");
      await device.client.waitFor(() => device.client.connectionState() === "live", recoverWithinMs, "device live");
    } finally {
      await device.stop();
      await proxy.close();
    }
  },
  recoverWithinMs + 10_000,
);

const deadPathCase = async (transport: (url: string) => Transport): Promise<void> => {
  const relay = await startRelay(server.port);
  const device = await runDevice("bidi", transport(relay.url));
  try {
    await device.client.waitFor(() => device.client.connectionState() === "live", 5_000, "device live");
    relay.killOpenConnectionsSilently();
    await device.client.waitFor(() => device.client.connectionState() !== "live", recoverWithinMs, "dead stream noticed");
    await device.client.waitFor(() => device.client.connectionState() === "live", recoverWithinMs, "device live again");
  } finally {
    await device.stop();
    await relay.close();
  }
};

// connect-node's Http2SessionManager, without pingIntervalMs, never verifies
// its session, so every retry of the SDK would go out on the same dead
// connection: the SDK's native transport (createNativeTransport) pings.
test(
  "(bidi, the SDK's native transport) after its connection died silently the device reconnects over a new connection",
  () => deadPathCase((url) => createNativeTransport(url, { pingIntervalMs: 1_000, pingTimeoutMs: 1_000 })),
  2 * recoverWithinMs + 10_000,
);

test(
  "(bidi, gRPC transport with keepalive pings) after its connection died silently the device reconnects over a new connection",
  () => deadPathCase((url) => createGrpcTransport({ baseUrl: url, pingIntervalMs: 1_000, pingTimeoutMs: 1_000 })),
  2 * recoverWithinMs + 10_000,
);
