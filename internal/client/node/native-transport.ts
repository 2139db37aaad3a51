import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/**
 * The gRPC transport a native (Node/Bun) client should give the SDK. It pings
 * its HTTP/2 connection: without pings, connect-node keeps reusing a
 * connection that died silently (NAT rebinding, Wi-Fi to LTE), so every
 * reconnect of the SDK would go out on the dead socket until the OS gives up
 * on it (minutes). With them, a dead connection is replaced within
 * `pingIntervalMs + pingTimeoutMs`.
 */
export function createNativeTransport(
  baseUrl: string,
  opts: { pingIntervalMs?: number; pingTimeoutMs?: number; interceptors?: Parameters<typeof createGrpcTransport>[0]["interceptors"] } = {},
): Transport {
  return createGrpcTransport({
    baseUrl,
    pingIntervalMs: opts.pingIntervalMs ?? 10_000,
    pingTimeoutMs: opts.pingTimeoutMs ?? 5_000,
    ...(opts.interceptors ? { interceptors: opts.interceptors } : {}),
  });
}
