import { describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import pino from "pino";
import { BackendUnavailableError, asDeviceId, asGatewayId, asUserId } from "../../domain/index.ts";
import type { RoutingTable } from "../routing-table.ts";
import type { GatewayRegistry } from "../gateway-registry.ts";
import { parseRedisUrl, toBackendError } from "./redis-client.ts";
import { createRedisGatewayRegistry } from "./redis-gateway-registry.ts";
import { createRedisRoutingTable } from "./redis-routing.ts";

const logger = pino({ enabled: false });

describe("parseRedisUrl", () => {
  test.each([
    ["redis://127.0.0.1:6379/0", { url: "redis://127.0.0.1:6379/0" }],
    ["redis://127.0.0.1:6379", { url: "redis://127.0.0.1:6379" }],
    ["redis://cache.internal/3?prefix=chat-eu:", { url: "redis://cache.internal/3", keyPrefix: "chat-eu:" }],
    ["rediss://user:secret@cache.internal:6380/1", { url: "rediss://user:secret@cache.internal:6380/1" }],
  ])("accepts %s", (url, expected) => {
    expect(parseRedisUrl(url)).toEqual(expected);
  });

  test.each([
    ["not a url", "not a URL"],
    ["http://127.0.0.1:6379", "expected redis:// or rediss://"],
    ["redis://127.0.0.1:6379/zero", "database must be a number"],
    ["redis://127.0.0.1:6379/0?keyPrefix=x", "unknown parameter(s) keyPrefix"],
  ])("refuses %s", (url, problem) => {
    expect(() => parseRedisUrl(url)).toThrow(problem);
  });

  test("never echoes the password of a refused url", () => {
    expect(() => parseRedisUrl("redis://user:hunter2@127.0.0.1:6379/x")).toThrow(/user:\*\*\*@/);
    expect(() => parseRedisUrl("redis://user:hunter2@127.0.0.1:6379/x")).not.toThrow(/hunter2/);
  });
});

describe("toBackendError", () => {
  const replyError = (message: string) => Object.assign(new Error(message), { name: "ReplyError" });
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
  test.each([
    ["a refused connection", refused, true],
    ["a command timeout", new Error("Command timed out"), true],
    ["a server still loading its data", replyError("LOADING Redis is loading the dataset in memory"), true],
    ["a replica refusing writes", replyError("READONLY You can't write against a read only replica."), true],
    ["a wrong-type reply (a bug, not an outage)", replyError("WRONGTYPE Operation against a key"), false],
  ])("%s", (_label, err, unavailable) => {
    const mapped = toBackendError(err, "test");
    expect(mapped instanceof BackendUnavailableError).toBe(unavailable);
    if (!unavailable) expect(mapped).toBe(err);
  });
});

describe("redis adapters with no server to reach", () => {
  const suffix = crypto.randomUUID().slice(0, 8);
  const route = {
    deviceId: asDeviceId(`d-${suffix}`),
    userId: asUserId(`u-${suffix}`),
    gatewayId: asGatewayId("gw-1"),
    sessionId: "s1",
  };
  const table = (url: string) => createRedisRoutingTable({ url }, { logger });
  const registry = (url: string) => createRedisGatewayRegistry({ url }, { logger });
  const calls: Array<[string, (url: string) => { close(): Promise<void> }, (adapter: never) => Promise<unknown>]> = [
    ["routing register", table, (t: RoutingTable) => t.register(route, 1_000)],
    ["routing routesOf", table, (t: RoutingTable) => t.routesOf([route.userId])],
    ["routing refresh", table, (t: RoutingTable) => t.refresh([route], 1_000)],
    ["routing unregister", table, (t: RoutingTable) => t.unregister(route.deviceId, route.sessionId)],
    ["registry announce", registry, (r: GatewayRegistry) => r.announce(route.gatewayId, "127.0.0.1:1", 1_000)],
    ["registry lookup", registry, (r: GatewayRegistry) => r.lookup(route.gatewayId)],
  ];

  test.each(calls)("%s fails with BackendUnavailableError", async (_label, open, call) => {
    const adapter = open(`redis://127.0.0.1:${await closedPort()}/0`);
    try {
      await expect(call(adapter as never)).rejects.toBeInstanceOf(BackendUnavailableError);
    } finally {
      await adapter.close();
    }
  });
});

/** A local port that nothing listens on (it was just released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
