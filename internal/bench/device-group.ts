import { createGrpcTransport } from "@connectrpc/connect-node";
import { mapLimit, openBenchDevice, registerBenchUser, type BenchDevice } from "./bench-device.ts";
import { linkFor } from "./pair-fleet.ts";

/** Users with one device each, for the connection scenarios. */
export interface DeviceGroupConfig {
  readonly count: number;
  readonly urls: readonly string[];
  readonly sourceAddresses: readonly string[];
  readonly concurrency: number;
  /** Username prefix unique to the run (plus a role tag, e.g. "s" for senders). */
  readonly prefix: string;
  /** Offset into the address/gateway rotation, so two groups spread like one. */
  readonly linkOffset?: number;
}

/** Registers `count` users and logs one device of each in (clients created, not started). */
export async function openDeviceGroup(cfg: DeviceGroupConfig): Promise<BenchDevice[]> {
  const setup = createGrpcTransport({ baseUrl: cfg.urls[0] as string });
  const names = Array.from({ length: cfg.count }, (_, i) => `${cfg.prefix}_${i}`);
  // Setup calls share one connection, at a bounded concurrency.
  const limit = Math.min(cfg.concurrency, 64);
  await mapLimit(names, limit, (name) => registerBenchUser(setup, name));
  return mapLimit(names, limit, (name, i) =>
    openBenchDevice(setup, name, linkFor(i + (cfg.linkOffset ?? 0), cfg.urls, cfg.sourceAddresses)),
  );
}

/** Starts a conversation for each [from, to] pair of devices; returns the conversation ids in order. */
export function startConversations(pairs: readonly (readonly [BenchDevice, BenchDevice])[], concurrency: number): Promise<string[]> {
  return mapLimit(pairs, Math.min(concurrency, 64), async ([from, to]) =>
    (await from.client().startConversation({ userId: to.userId })).conversationId,
  );
}

/** How connecting a group went. */
export interface ConnectOutcome {
  readonly connected: number;
  readonly failed: number;
  readonly seconds: number;
  readonly firstError?: string;
}

/**
 * Starts every device, `concurrency` openings at a time (Infinity: all at
 * once), and waits until each is live or `timeoutMs` passed. Failures are
 * counted, not thrown: a scenario reports how many devices did not make it.
 */
export async function connectGroup(devices: readonly BenchDevice[], concurrency: number, timeoutMs: number): Promise<ConnectOutcome> {
  const started = performance.now();
  let failed = 0;
  let firstError: string | undefined;
  await mapLimit(devices, Math.min(concurrency, devices.length), async (device) => {
    device.start();
    try {
      await device.waitLive(timeoutMs);
    } catch (err) {
      failed++;
      firstError ??= String(err);
    }
  });
  return {
    connected: devices.length - failed,
    failed,
    seconds: Math.round((performance.now() - started) / 10) / 100,
    ...(firstError ? { firstError } : {}),
  };
}
