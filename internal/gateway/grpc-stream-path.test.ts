import { afterEach, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { ChatService, ConnectRequestSchema, type ConnectRequest, type ConnectResponse } from "../../gen/chat/v1/chat_service_pb.ts";
import { toConnectError } from "./error-mapping.ts";
import { envelopeOf } from "../grpc/envelopes.ts";
import { createGrpcStreamPath } from "./grpc-stream-path.ts";

const servers: http2.Http2Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A server whose only route is the lean path around `impl`; returns what one call got back in its trailers. */
async function callWith(
  impl: (reqs: AsyncIterable<ConnectRequest>) => AsyncIterable<ConnectResponse>,
): Promise<{ status: string | undefined; message: string | undefined; messages: number }> {
  const path = createGrpcStreamPath({
    method: ChatService.method.connect,
    impl,
    toWireError: (err) => toConnectError(err, pino({ level: "silent" })),
    readMaxBytes: 1024,
    compressMinBytes: 16 * 1024,
  });
  const server = http2.createServer({});
  server.on("stream", (stream, headers) => path.serve(stream as http2.ServerHttp2Stream, headers));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      const req = client.request({ ":method": "POST", ":path": "/chat.v1.ChatService/Connect", "content-type": "application/grpc", te: "trailers" });
      let messages = 0;
      let trailers: http2.IncomingHttpHeaders = {};
      req.on("data", (chunk: Buffer) => (messages += chunk.length > 0 ? 1 : 0));
      req.on("trailers", (t) => (trailers = t));
      req.on("error", reject);
      req.on("close", () =>
        resolve({
          status: trailers["grpc-status"] as string | undefined,
          message: trailers["grpc-message"] === undefined ? undefined : decodeURIComponent(String(trailers["grpc-message"])),
          messages,
        }),
      );
      req.end(envelopeOf(toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: { case: "ping", value: {} } })), Infinity));
    });
  } finally {
    client.close();
  }
}

test("an unexpected error leaves as internal, without its message", async () => {
  const answer = await callWith(async function* (reqs) {
    for await (const _ of reqs) throw new Error("secret detail from a backend");
  });
  expect(answer.status).toBe(String(Code.Internal));
  expect(answer.message).toBe("[INTERNAL] internal error");
});

test("a ConnectError leaves as it is, and a clean end is OK", async () => {
  const refused = await callWith(async function* () {
    throw new ConnectError("[HELLO_REQUIRED] nope", Code.InvalidArgument);
  });
  expect(refused).toEqual({ status: String(Code.InvalidArgument), message: "[HELLO_REQUIRED] nope", messages: 0 });
  const ok = await callWith(async function* (reqs) {
    for await (const _ of reqs) yield create(ChatService.method.connect.output, {});
  });
  expect(ok).toEqual({ status: "0", message: undefined, messages: 1 });
});
