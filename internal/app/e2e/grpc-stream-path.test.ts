import { describe, expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import http2 from "node:http2";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  ConnectRequestSchema,
  ConnectResponseSchema,
  type ConnectRequest,
} from "../../../gen/chat/v1/chat_service_pb.ts";
import { ErrorDetailSchema, ErrorReason } from "../../../gen/chat/v1/types_pb.ts";
import { envelopeOf } from "../../grpc/envelopes.ts";
import { newDevice } from "./raw-device.ts";
import { useTestServer } from "./test-servers.ts";

/**
 * ChatService.Connect over gRPC is served by the lean path (grpc-stream-path.ts)
 * unless STREAM_PATH=connect. The same raw requests go to a server of each
 * kind and must get the same answer: HTTP status, headers that matter, the
 * messages (with their compression flags) and the trailers' status, message
 * and error detail.
 */
interface Answer {
  status: number;
  contentType: string | undefined;
  encoding: string | undefined;
  /** Each response message: compressed flag, its size once decompressed, and the event cases it carries. */
  messages: { compressed: boolean; bytes: number; events: string[] }[];
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  reason: string | undefined;
}

const PATH = "/chat.v1.ChatService/Connect";

function envelope(payload: Uint8Array, flags = 0, length = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length);
  out.set(payload, 5);
  return out;
}

const frame = (f: ConnectRequest["frame"]) =>
  envelope(toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: f })));

/** Sends `body` on a Connect stream; ends the request after `endAfter` response messages (0: at once). */
function call(
  url: string,
  body: Uint8Array,
  opts: { token?: string; headers?: Record<string, string>; endAfter?: number; until?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(url);
    client.on("error", reject);
    const req = client.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    });
    const answer: Answer = {
      status: 0, contentType: undefined, encoding: undefined, messages: [],
      grpcStatus: undefined, grpcMessage: undefined, reason: undefined,
    };
    let pending = Buffer.alloc(0);
    const endAfter = opts.endAfter ?? 0;
    const timer = setTimeout(() => reject(new Error("no answer within 10 s")), 10_000);
    req.on("response", (h) => {
      answer.status = Number(h[":status"]);
      answer.contentType = h["content-type"] as string | undefined;
      answer.encoding = h["grpc-encoding"] as string | undefined;
    });
    req.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const length = pending.readUInt32BE(1);
        const compressed = pending[0] === 1;
        const bytes = pending.subarray(5, 5 + length);
        pending = pending.subarray(5 + length);
        const plain = compressed ? gunzipSync(bytes) : bytes;
        const response = fromBinary(ConnectResponseSchema, plain);
        const events = response.event ? [response.event] : response.events;
        answer.messages.push({ compressed, bytes: plain.length, events: events.map((e) => e.event.case ?? "none") });
        if (answer.messages.length === endAfter || (opts.until && events.some((e) => e.event.case === opts.until))) req.end();
      }
    });
    req.on("trailers", (t) => {
      answer.grpcStatus = t["grpc-status"] as string | undefined;
      answer.grpcMessage = t["grpc-message"] === undefined ? undefined : decodeURIComponent(String(t["grpc-message"]));
      const trailer = new Headers();
      for (const [k, v] of Object.entries(t)) if (!k.startsWith(":") && v !== undefined) trailer.set(k, String(v));
      const detail = findTrailerError(trailer)?.findDetails(ErrorDetailSchema)[0];
      if (detail) answer.reason = ErrorReason[detail.reason];
    });
    req.on("close", () => {
      clearTimeout(timer);
      client.close();
      resolve(answer);
    });
    req.write(body);
    if (endAfter === 0 && !opts.until) req.end();
  });
}

describe("ChatService.Connect over gRPC: lean path and connect-es answer alike [embedded]", () => {
  const lean = useTestServer("embedded", { gateway: { streamPath: "lean" } });
  const connect = useTestServer("embedded", { gateway: { streamPath: "connect" } });

  /** Runs `scenario` against both servers and expects the same answer; returns it. */
  async function same(scenario: (url: string, token: string) => Promise<Answer>): Promise<Answer> {
    const tag = crypto.randomUUID().slice(0, 8);
    const a = await newDevice(lean().url, `gp_l_${tag}`);
    const b = await newDevice(connect().url, `gp_c_${tag}`);
    const fromLean = await scenario(lean().url, a.token);
    const fromConnect = await scenario(connect().url, b.token);
    expect(fromLean).toEqual(fromConnect);
    return fromLean;
  }

  const hello = (batches = false) => frame({ case: "hello", value: { $typeName: "chat.v1.Hello", token: "", cursors: [], acceptEventBatches: batches, acceptsFrameBatches: false } as never });
  const ping = () => frame({ case: "ping", value: { $typeName: "chat.v1.Ping", nonce: 1n } as never });

  test("a hello gets a Welcome; the client's half-close ends the stream with OK", async () => {
    const answer = await same((url, token) => call(url, hello(), { token, endAfter: 1 }));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe("application/grpc+proto");
    expect(answer.messages[0]!.events).toEqual(["welcome"]);
    expect(answer.grpcStatus).toBe("0");
  });

  test("a compressed hello (grpc-encoding gzip) is served too", async () => {
    const compressed = envelope(gzipSync(toBinary(ConnectRequestSchema, create(ConnectRequestSchema, { frame: { case: "hello", value: {} } }))), 1);
    const answer = await same((url, token) => call(url, compressed, { token, endAfter: 1, headers: { "grpc-encoding": "gzip" } }));
    expect(answer.messages[0]!.events).toEqual(["welcome"]);
  });

  const refusals: [string, () => Uint8Array, string | undefined, string, ErrorReason][] = [
    ["a first frame that is not a hello", ping, "token", "3", ErrorReason.HELLO_REQUIRED],
    ["an empty request", () => new Uint8Array(0), "token", "3", ErrorReason.HELLO_REQUIRED],
    ["garbage bytes as the hello", () => envelope(new Uint8Array([0xff, 0xff, 0xff])), "token", "3", ErrorReason.MALFORMED_FRAME],
    ["a request cut inside a message", () => envelope(new Uint8Array([1, 2, 3]), 0, 100), "token", "3", ErrorReason.MALFORMED_FRAME],
    ["a message longer than the limit", () => envelope(new Uint8Array([1]), 0, 64 * 1024 * 1024), "token", "3", ErrorReason.MALFORMED_FRAME],
    ["a hello without a token", () => hello(), undefined, "16", ErrorReason.TOKEN_MISSING],
    ["a hello with a bad token", () => hello(), "not-a-token", "16", ErrorReason.TOKEN_INVALID],
  ];
  test.each(refusals)("%s is refused the same way", async (_name, body, tokenKind, grpcStatus, reason) => {
    const answer = await same((url, token) =>
      call(url, body(), { token: tokenKind === "token" ? token : tokenKind }),
    );
    expect(answer.grpcStatus).toBe(grpcStatus);
    expect(answer.reason).toBe(ErrorReason[reason]);
    expect(answer.grpcMessage).toStartWith(`[${ErrorReason[reason]}]`);
    expect(answer.messages).toEqual([]);
  });

  test("frames of 16 KiB and more are gzipped for a client that accepts gzip, smaller ones are not", async () => {
    const catchUp = async (url: string) => {
      const tag = crypto.randomUUID().slice(0, 8);
      const sender = await newDevice(url, `gp_s_${tag}`);
      const reader = await newDevice(url, `gp_r_${tag}`);
      const { conversation } = await sender.chat.startConversation({ peer: { case: "peerUsername", value: `gp_r_${tag}` } });
      const conversationId = conversation!.conversationId;
      // 16 x 4 KiB of compressible text, caught up in frames of up to 64 events.
      let lastId = "";
      for (let i = 0; i < 16; i++) {
        lastId = crypto.randomUUID();
        await sender.chat.sendMessage({ clientMsgId: lastId, conversationId, text: `line ${i} `.repeat(512) });
      }
      // The worker stores asynchronously: wait until the reader's list shows the last message.
      for (let i = 0; i < 100; i++) {
        const list = await reader.chat.listConversations({});
        if (list.conversations.some((c) => c.lastMessage?.clientMsgId === lastId)) break;
        await Bun.sleep(50);
      }
      const answer = await call(url, hello(true), { token: reader.token, headers: { "grpc-accept-encoding": "gzip" }, until: "syncComplete" });
      // How events fall into frames depends on timing; what they are, and the rule, do not.
      expect(answer.encoding).toBe("gzip");
      for (const m of answer.messages) expect(m.compressed).toBe(m.bytes >= 16 * 1024);
      return answer.messages.flatMap((m) => m.events);
    };
    const fromLean = await catchUp(lean().url);
    expect(fromLean).toEqual(await catchUp(connect().url));
    expect(fromLean.filter((e) => e === "message").length).toBe(16);
  });

  test("a client that cancels its idle stream ends its session at once, on either path", async () => {
    /** chat_open_streams as the server reports it. */
    const openStreams = async (url: string) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return Number(/^chat_open_streams (\d+)/m.exec(text)?.[1]);
    };
    for (const server of [lean(), connect()]) {
      const device = await newDevice(server.url, `gp_x_${crypto.randomUUID().slice(0, 8)}`);
      const before = await openStreams(server.url);
      const client = http2.connect(server.url);
      try {
        const req = client.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${device.token}` });
        req.on("error", () => {});
        req.write(hello());
        // The Welcome came: the session is open and idle (its catch-up is empty).
        await new Promise<void>((resolve) => req.once("data", () => resolve()));
        expect(await openStreams(server.url)).toBe(before + 1);
        req.close(http2.constants.NGHTTP2_CANCEL);
        let now = before + 1;
        for (let i = 0; i < 100 && now !== before; i++) {
          await Bun.sleep(20);
          now = await openStreams(server.url);
        }
        expect(now).toBe(before);
      } finally {
        client.close();
      }
    }
  });

  test("the lean path gzips exactly the frames from the threshold on", () => {
    const small = new Uint8Array(100).fill(7);
    const big = new Uint8Array(20_000).fill(7);
    const [s, b] = [envelopeOf(small, 16 * 1024), envelopeOf(big, 16 * 1024)];
    expect(s[0]).toBe(0);
    expect(Buffer.from(s.subarray(5))).toEqual(Buffer.from(small));
    expect(b[0]).toBe(1);
    expect(new DataView(b.buffer, b.byteOffset).getUint32(1)).toBe(b.length - 5);
    expect(Buffer.from(gunzipSync(b.subarray(5)))).toEqual(Buffer.from(big));
    expect(envelopeOf(big, Infinity)[0]).toBe(0);
  });
});
