/**
 * Deliveries per second through one worker -> gateway push stream on
 * loopback: `bun internal/push/grpc/push-throughput.bench.ts [deliveries]`.
 * Sender and receiver share this process (and its one JS thread), so the
 * figure is a floor for two processes on separate cores.
 */
import pino from "pino";
import { asConversationId, asDeviceId, asGatewayId, asUserId, type GatewayId } from "../../domain/index.ts";
import type { GatewayRegistry } from "../../routing/index.ts";
import type { Delivery } from "../push-link.ts";
import { createGrpcPushLink } from "./grpc-push-link.ts";
import { startGrpcPushServer } from "./grpc-push-server.ts";

const total = Number(process.argv[2] ?? 200_000);
const logger = pino({ level: "warn" });
const gatewayId = asGatewayId("gw-bench");

/** A typical live message: ~100 bytes of text, ~250 bytes on the wire. */
const message = (n: number): Delivery => ({
  deviceId: asDeviceId(`d-${n % 1_000}`),
  event: {
    type: "message",
    message: {
      conversationId: asConversationId("c_0123456789abcdef0123456789abcdef"),
      seq: n,
      prevSeq: n - 1,
      senderUserId: asUserId("u-sender"),
      senderDeviceId: asDeviceId("d-sender"),
      clientMsgId: crypto.randomUUID(),
      text: "a message of about a hundred bytes, which is what most chat messages are, give or take a few words",
      sentAtMs: Date.now(),
    },
  },
});

async function run(pushSize: number, pushesPerTick: number): Promise<number> {
  let received = 0;
  const sink = (deliveries: readonly Delivery[]) => void (received += deliveries.length);
  const server = await startGrpcPushServer({ host: "127.0.0.1", port: 0 }, { sink, logger });
  const registry: GatewayRegistry = {
    announce: async () => {},
    lookup: async (id: GatewayId) => (id === gatewayId ? server.address : undefined),
    withdraw: async () => {},
    close: async () => {},
  };
  const link = createGrpcPushLink({}, { registry, logger });
  const prebuilt = Array.from({ length: pushSize }, (_, i) => message(i + 1));
  await link.push(gatewayId, prebuilt); // warm-up: connection and stream open
  const warm = pushSize;
  while (received < warm) await Bun.sleep(1);

  const started = performance.now();
  for (let sent = 0; sent < total; ) {
    // Like workers flushing many partitions at once: a tick's pushes, awaited together.
    const tick: Promise<void>[] = [];
    for (let i = 0; i < pushesPerTick && sent < total; i++, sent += pushSize) tick.push(link.push(gatewayId, prebuilt));
    await Promise.all(tick);
  }
  const deadline = performance.now() + 60_000;
  while (received < warm + total && performance.now() < deadline) await Bun.sleep(1);
  const seconds = (performance.now() - started) / 1000;
  await link.close();
  await server.close();
  return (received - warm) / seconds;
}

for (const [pushSize, pushesPerTick] of [
  [1, 100],
  [10, 20],
  [100, 5],
] as const) {
  const rate = await run(pushSize, pushesPerTick);
  const perSecond = Math.round(rate).toLocaleString("en");
  console.log(`${pushSize} deliveries/push, ${pushesPerTick} pushes/tick: ${perSecond} deliveries/s`);
}
