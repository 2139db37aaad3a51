import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import http2 from "node:http2";
import { ConnectRequestSchema, type ConnectRequest } from "../../../gen/chat/v1/chat_service_pb.ts";
import { envelopeOf } from "../../grpc/envelopes.ts";
import { startEmbeddedServer, type RunningServer } from "../index.ts";
import { newDevice } from "./raw-device.ts";

const IDLE_MS = 600;
let server: RunningServer;
beforeAll(async () => {
  server = await startEmbeddedServer({ gateway: { heartbeatIntervalMs: 200, idleTimeoutMs: IDLE_MS } });
});
afterAll(() => server.destroy());

const frame = (f: ConnectRequest["frame"]) =>
  envelopeOf(toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: f })), Infinity);

/**
 * Opens a bidi stream over a plain HTTP/2 client (which answers the server's
 * HTTP/2 pings, so only the stream's own idle timeout can end it), sends a
 * hello, then a Ping frame every `pingEveryMs` (never when undefined), and
 * reports how the stream ended and when.
 */
async function openStream(token: string, pingEveryMs: number | undefined, giveUpMs: number) {
  const client = http2.connect(`http://127.0.0.1:${server.port}`);
  const req = client.request({
    ":method": "POST",
    ":path": "/chat.v1.ChatService/Connect",
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${token}`,
  });
  req.write(frame({ case: "hello", value: {} as never }));
  const pinger = pingEveryMs === undefined ? undefined : setInterval(() => req.write(frame({ case: "ping", value: {} as never })), pingEveryMs);
  const started = Date.now();
  try {
    return await new Promise<{ ended: boolean; afterMs: number; message: string | undefined }>((resolve) => {
      const giveUp = setTimeout(() => resolve({ ended: false, afterMs: Date.now() - started, message: undefined }), giveUpMs);
      req.on("data", () => undefined);
      req.on("trailers", (t) => {
        clearTimeout(giveUp);
        const message = t["grpc-message"] === undefined ? undefined : decodeURIComponent(String(t["grpc-message"]));
        resolve({ ended: true, afterMs: Date.now() - started, message });
      });
    });
  } finally {
    clearInterval(pinger);
    req.close();
    client.close();
  }
}

test("a bidi stream silent for the idle timeout is closed with HEARTBEAT_TIMEOUT; one that sends frames stays open", async () => {
  const silent = await newDevice(server.url, "it_silent");
  const talking = await newDevice(server.url, "it_talking");
  const [quiet, busy] = await Promise.all([
    openStream(silent.token, undefined, IDLE_MS * 5),
    openStream(talking.token, IDLE_MS / 4, IDLE_MS * 3),
  ]);
  expect(quiet.ended).toBe(true);
  expect(quiet.message).toStartWith("[HEARTBEAT_TIMEOUT]");
  expect(quiet.afterMs).toBeGreaterThanOrEqual(IDLE_MS);
  expect(busy.ended).toBe(false);
});
