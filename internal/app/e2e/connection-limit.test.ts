import { afterAll, beforeAll, expect, test } from "bun:test";
import { ConnectError, Code } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason } from "../../../gen/chat/v1/types_pb.ts";
import { startEmbeddedServer, type RunningServer } from "../index.ts";
import { newDevice } from "./raw-device.ts";

let server: RunningServer;
beforeAll(async () => {
  server = await startEmbeddedServer({ gateway: { maxConnections: 2 } });
});
afterAll(() => server.destroy());

test("past the per-process connection limit a new device stream is refused with TOO_MANY_CONNECTIONS; held devices may reconnect", async () => {
  const [a, b, c] = await Promise.all([newDevice(server.url, "cl_a"), newDevice(server.url, "cl_b"), newDevice(server.url, "cl_c")]);
  await a.connect();
  await b.connect();
  const refused = await c.connect().then(
    () => undefined,
    () => c.streamError,
  );
  const err = ConnectError.from(refused);
  expect(err.code).toBe(Code.ResourceExhausted);
  expect(err.findDetails(ErrorDetailSchema)[0]?.reason).toBe(ErrorReason.TOO_MANY_CONNECTIONS);
  expect(server.app.gateway!.hub.size).toBe(2);
  // A device that already holds a stream may replace it (a reconnect over a new
  // connection while the old one lingers) even at the limit.
  await b.connect();
  expect(server.app.gateway!.hub.size).toBe(2);
  // Once a slot frees up, the refused device gets in.
  await a.disconnect();
  const deadline = Date.now() + 5_000;
  while (server.app.gateway!.hub.size > 1 && Date.now() < deadline) await Bun.sleep(10);
  await c.connect();
  expect(server.app.gateway!.hub.size).toBe(2);
  await Promise.all([b.disconnect(), c.disconnect()]);
});
