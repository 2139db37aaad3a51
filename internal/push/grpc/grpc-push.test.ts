import { afterEach, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import pino from "pino";
import { asConversationId, asDeviceId, asGatewayId, asUserId, type GatewayId } from "../../domain/index.ts";
import { startTcpProxy } from "../../faults/index.ts";
import type { GatewayRegistry } from "../../routing/index.ts";
import { describePushLink, eventually, recorder, type PushLinkFixture } from "../push-link.conformance.ts";
import type { Delivery, DeliverySink } from "../push-link.ts";
import type { GrpcPushLinkConfig } from "./grpc-push-config.ts";
import { createGrpcPushLink, type GrpcPushLink } from "./grpc-push-link.ts";
import { startGrpcPushServer, type RunningPushServer } from "./grpc-push-server.ts";

const logger = pino({ level: process.env.PUSH_TEST_LOG ?? "silent" });

/**
 * A map behind the registry port, standing in for the memory adapter being
 * written alongside (TTL ignored: no case here lets an entry expire).
 */
function mapRegistry(): GatewayRegistry {
  const addresses = new Map<GatewayId, string>();
  return {
    announce: async (gatewayId, address) => void addresses.set(gatewayId, address),
    lookup: async (gatewayId) => addresses.get(gatewayId),
    withdraw: async (gatewayId) => void addresses.delete(gatewayId),
    close: async () => addresses.clear(),
  };
}

/** Link, registry and gateways of one case, all released by `dispose`. */
function harness(cfg: Partial<GrpcPushLinkConfig> = {}) {
  const registry = mapRegistry();
  const link: GrpcPushLink = createGrpcPushLink(
    { reconnectBaseMs: 20, reconnectMaxMs: 200, ...cfg },
    { registry, logger },
  );
  const running = new Set<RunningPushServer>();
  const cleanups: (() => void)[] = [];
  return {
    link,
    registry,
    cleanups,
    async startGateway(gatewayId: GatewayId, sink: DeliverySink) {
      const server = await startGrpcPushServer({ host: "127.0.0.1", port: 0 }, { sink, logger });
      running.add(server);
      await registry.announce(gatewayId, server.address, 60_000);
      return { server, stop: async () => (await server.close(), await registry.withdraw(gatewayId)) };
    },
    async dispose() {
      await link.close();
      await Promise.all([...running].map((s) => s.close()));
      for (const cleanup of cleanups) cleanup();
    },
  };
}

describePushLink("grpc push link", async (): Promise<PushLinkFixture> => {
  const h = harness();
  return {
    link: h.link,
    startGateway: async (gatewayId, sink) => (await h.startGateway(gatewayId, sink)).stop,
    dispose: h.dispose,
  };
});

const evict = (n: number, tag = "s"): Delivery => ({
  deviceId: asDeviceId(`d${n % 7}`),
  event: { type: "evict", sessionId: `${tag}-${n}` },
});
const sessionNumber = (d: Delivery) => (d.event.type === "evict" ? Number(d.event.sessionId.split("-")[1]) : NaN);

/** A 4 KiB message numbered by its seq, to fill flow-control windows quickly. */
const bulky = (n: number): Delivery => ({
  deviceId: asDeviceId("d1"),
  event: {
    type: "message",
    message: {
      conversationId: asConversationId("c_0123456789abcdef0123456789abcdef"),
      seq: n,
      prevSeq: Math.max(0, n - 1),
      senderUserId: asUserId("u1"),
      senderDeviceId: asDeviceId("d0"),
      clientMsgId: `m-${n}`,
      text: "x".repeat(4_096),
      sentAtMs: 0,
    },
  },
});
const bulkyNumber = (d: Delivery) => (d.event.type === "message" ? d.event.message.seq : NaN);

/** A port that accepts TCP and then never speaks: a hung gateway. */
async function silentPort(cleanups: (() => void)[]): Promise<string> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => (sockets.forEach((s) => s.destroy()), server.close()));
  const address = server.address();
  return `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

/** A port nobody listens on (bound, then released): a refused connection. */
async function refusedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

describe("grpc push link", () => {
  let h: ReturnType<typeof harness>;
  afterEach(async () => {
    await h.dispose();
  });

  test("pushes issued in the same tick travel as one stream message", async () => {
    h = harness();
    const calls: (readonly Delivery[])[] = [];
    await h.startGateway(asGatewayId("gw-a"), (deliveries) => void calls.push(deliveries));
    const batches = Array.from({ length: 100 }, (_, i) => [evict(i)]);

    await Promise.all(batches.map((b) => h.link.push(asGatewayId("gw-a"), b)));
    await eventually(() => calls.flat().length === 100, "all deliveries");
    expect(calls).toEqual([batches.flat()]);
  });

  test("a coalesced batch is split into messages of at most maxDeliveriesPerMessage, in order", async () => {
    h = harness({ maxDeliveriesPerMessage: 10 });
    const calls: (readonly Delivery[])[] = [];
    await h.startGateway(asGatewayId("gw-a"), (deliveries) => void calls.push(deliveries));
    const batches = Array.from({ length: 35 }, (_, i) => [evict(2 * i), evict(2 * i + 1)]);

    await Promise.all(batches.map((b) => h.link.push(asGatewayId("gw-a"), b)));
    await eventually(() => calls.flat().length === 70, "all deliveries");
    expect(calls.map((c) => c.length)).toEqual([10, 10, 10, 10, 10, 10, 10]);
    expect(calls.flat()).toEqual(batches.flat());
  });

  test("many batches from many ticks arrive complete and in order", async () => {
    h = harness();
    const a = recorder();
    await h.startGateway(asGatewayId("gw-a"), a.sink);
    let n = 0;
    for (let tick = 0; tick < 200; tick++) {
      const pushes = Array.from({ length: 1 + (tick % 5) }, () =>
        h.link.push(asGatewayId("gw-a"), [evict(n++), evict(n++)]),
      );
      if (tick % 3 === 0) await Promise.all(pushes);
    }
    await eventually(() => a.received.length === n, "all deliveries");
    expect(a.received.map(sessionNumber)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  test("a gateway restarted on a new port gets later pushes, in order, once the registry names it", async () => {
    h = harness();
    const [first, second] = [recorder(), recorder()];
    const gw = asGatewayId("gw-a");
    const old = await h.startGateway(gw, first.sink);
    await h.link.push(gw, [evict(0)]);
    await eventually(() => first.received.length === 1, "the first push");

    await old.server.close(); // crash: no withdraw, the registry still names the dead port for a while
    const next = await h.startGateway(gw, second.sink);
    expect(next.server.address).not.toBe(old.server.address);

    for (let i = 1; i <= 1_000 && second.received.length < 20; i++) {
      await h.link.push(gw, [evict(i)]);
      await Bun.sleep(5);
    }
    const numbers = second.received.map(sessionNumber);
    expect(numbers.length).toBeGreaterThanOrEqual(20);
    expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
    expect(first.received).toEqual([evict(0)]);
  });

  test.each([
    ["refuses connections", async () => refusedPort()],
    ["accepts TCP but never answers", async () => silentPort(h.cleanups)],
  ])("a gateway that %s does not hold up pushes to another gateway", async (_label, deadAddress) => {
    h = harness({ connectTimeoutMs: 2_000 });
    const live = recorder();
    await h.registry.announce(asGatewayId("gw-dead"), await deadAddress(), 60_000);
    await h.startGateway(asGatewayId("gw-live"), live.sink);

    const toDead = h.link.push(asGatewayId("gw-dead"), [evict(0, "dead")]);
    for (let i = 0; i < 50; i++) await h.link.push(asGatewayId("gw-live"), [evict(i)]);
    await eventually(() => live.received.length === 50, "the live gateway's deliveries");
    expect(live.received.map(sessionNumber)).toEqual(Array.from({ length: 50 }, (_, i) => i));

    await toDead; // settles (dropped) within the connect timeout, without an error
    await h.link.push(asGatewayId("gw-dead"), [evict(1, "dead")]);
  });

  test("past the per-gateway buffer cap, pushes are dropped at once instead of waiting", async () => {
    h = harness({ maxBufferedDeliveries: 10, connectTimeoutMs: 5_000 });
    await h.registry.announce(asGatewayId("gw-hung"), await silentPort(h.cleanups), 60_000);
    let firstSettled = false;
    const first = h.link.push(asGatewayId("gw-hung"), Array.from({ length: 10 }, (_, i) => evict(i)));
    void first.then(() => (firstSettled = true));

    await h.link.push(asGatewayId("gw-hung"), [evict(10)]);
    // The over-cap push came back while the buffered one still waits for the connection.
    expect(firstSettled).toBe(false);
    await h.link.close();
    await first;
  });

  test("a gateway that stops reading is cut off, then reached again on a new connection", async () => {
    h = harness({ stallTimeoutMs: 300, keepaliveMs: 60_000 });
    const a = recorder();
    const gw = asGatewayId("gw-a");
    const { server } = await h.startGateway(gw, a.sink);
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(server.address.split(":")[1]) });
    h.cleanups.push(() => void proxy.close());
    await h.registry.announce(gw, `127.0.0.1:${proxy.port}`, 60_000);
    await h.link.push(gw, [bulky(0)]);
    await eventually(() => a.received.length === 1, "the first push");

    // A half-open peer: bytes vanish, HTTP/2 flow control stops the stream.
    proxy.setMode("blackhole");
    const pushes: Promise<void>[] = [];
    let settled = 0;
    for (let i = 1; i <= 2_000; i++) {
      const p = h.link.push(gw, [bulky(i)]);
      void p.then(() => settled++);
      pushes.push(p);
      if (i % 20 === 0) await Bun.sleep(1);
    }
    await eventually(() => settled === pushes.length, "every push to the stalled gateway to settle");

    proxy.setMode("pass");
    const before = a.received.length;
    for (let i = 0; i < 1_000 && a.received.length === before; i++) {
      await h.link.push(gw, [bulky(10_000 + i)]);
      await Bun.sleep(5);
    }
    expect(a.received.length).toBeGreaterThan(before);
    const numbers = a.received.map(bulkyNumber);
    expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
  });

  test("after close, pushes resolve without delivering", async () => {
    h = harness();
    const a = recorder();
    await h.startGateway(asGatewayId("gw-a"), a.sink);
    await h.link.push(asGatewayId("gw-a"), [evict(0)]);
    await eventually(() => a.received.length === 1, "the first push");
    await h.link.close();
    await h.link.push(asGatewayId("gw-a"), [evict(1)]);
    expect(a.received).toEqual([evict(0)]);
  });
});
