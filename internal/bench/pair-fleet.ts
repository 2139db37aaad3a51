import { createGrpcTransport } from "@connectrpc/connect-node";
import type { ChatEvent } from "../client/index.ts";
import { mapLimit, openBenchDevice, registerBenchUser, type BenchDevice, type DeviceLink } from "./bench-device.ts";

/** Shape of a fleet of conversation pairs. */
export interface PairFleetConfig {
  readonly pairs: number;
  readonly devicesPerUser: number;
  readonly urls: readonly string[];
  readonly sourceAddresses: readonly string[];
  /** Logins and stream openings in flight at once. */
  readonly concurrency: number;
  /** Username prefix unique to the run. */
  readonly prefix: string;
  readonly connectTimeoutMs: number;
}

/** One device that sends, and where to. */
export interface Sender {
  readonly device: BenchDevice;
  readonly conversationId: string;
}

/** Users in pairs, one conversation per pair, every device live. */
export interface PairFleet {
  readonly devices: readonly BenchDevice[];
  /** Every device with its pair's conversation: the open loop sends round-robin over them. */
  readonly senders: readonly Sender[];
  /** Replaces the receiver of every device's events (one tracker per load phase). */
  observe(observer: (userId: string, event: ChatEvent) => void): void;
  stop(): Promise<void>;
}

/** Picks the gateway and source address of the n-th device: spread evenly. */
export function linkFor(n: number, urls: readonly string[], sourceAddresses: readonly string[]): DeviceLink {
  const url = urls[n % urls.length] as string;
  const source = sourceAddresses.length > 0 ? sourceAddresses[n % sourceAddresses.length] : undefined;
  return source ? { url, sourceAddress: source } : { url };
}

/**
 * Registers 2 x pairs users, logs in devicesPerUser devices each, starts one
 * conversation per pair before any stream opens (so every device learns it
 * in its first catch-up), then connects every device and waits until all are
 * live and know their conversation.
 */
export async function openPairFleet(cfg: PairFleetConfig): Promise<PairFleet> {
  const setup = createGrpcTransport({ baseUrl: cfg.urls[0] as string });
  const names = Array.from({ length: cfg.pairs * 2 }, (_, i) => `${cfg.prefix}_${i >> 1}${i % 2 === 0 ? "a" : "b"}`);
  await mapLimit(names, cfg.concurrency, (name) => registerBenchUser(setup, name));
  const slots = names.flatMap((name) => Array.from({ length: cfg.devicesPerUser }, () => name));
  const devices = await mapLimit(slots, cfg.concurrency, (name, n) => openBenchDevice(setup, name, linkFor(n, cfg.urls, cfg.sourceAddresses)));
  const perUser = cfg.devicesPerUser;
  const conversationIds = await mapLimit(
    Array.from({ length: cfg.pairs }, (_, p) => p),
    cfg.concurrency,
    async (p) => {
      const a = devices[p * 2 * perUser] as BenchDevice;
      const b = devices[(p * 2 + 1) * perUser] as BenchDevice;
      return (await a.client().startConversation({ userId: b.userId })).conversationId;
    },
  );
  let observer: (userId: string, event: ChatEvent) => void = () => undefined;
  for (const device of devices) device.on((event) => observer(device.userId, event));
  const conversationOf = (n: number): string => conversationIds[Math.floor(n / (2 * perUser))] as string;

  await mapLimit(devices, cfg.concurrency, async (device, n) => {
    device.start();
    await device.waitLive(cfg.connectTimeoutMs);
    const id = conversationOf(n);
    if (!device.client().conversation(id)) await device.client().refreshConversations();
    await device.client().waitFor(() => device.client().conversation(id) !== undefined, cfg.connectTimeoutMs, `${device.username} knows ${id}`);
  });
  // Round-robin over this list alternates pairs and directions: every device sends the same share.
  const senders = devices.map((device, n) => ({ device, conversationId: conversationOf(n) }));
  return {
    devices,
    senders,
    observe(next) {
      observer = next;
    },
    async stop() {
      await Promise.all(devices.map((d) => d.stop()));
    },
  };
}
