import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { ChatService, ConnectResponseSchema, type ConnectRequestSchema } from "../../../gen/chat/v1/chat_service_pb.ts";
import { ErrorDetailSchema, ErrorReason } from "../../../gen/chat/v1/types_pb.ts";
import { startEmbeddedServer, type RunningServer } from "../../app/index.ts";
import { envelopeOf } from "../../grpc/envelopes.ts";
import { login, register, withBearerToken } from "../auth.ts";
import { createNativeTransport } from "./native-transport.ts";

type Request = MessageInitShape<typeof ConnectRequestSchema>;

/** What a client saw of one Connect call. */
interface Seen {
  encoding: string | null;
  events: string[];
  code?: string;
  reason?: string;
}

/**
 * The SDK's native transport writes and reads device streams itself (no
 * connect-es pipeline): against the same server, every scenario must look
 * the same through it as through connect-node's gRPC transport: events,
 * compression, the end status with its code and error reason, cancellation.
 */
describe("native transport: device streams as connect-node's gRPC transport sees them", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startEmbeddedServer();
  });
  afterAll(() => server.destroy());

  const transports: [string, (url: string) => Transport][] = [
    ["native", (url) => createNativeTransport(url)],
    ["connect-node", (url) => createGrpcTransport({ baseUrl: url })],
  ];

  async function device(username: string): Promise<{ token: string; userId: string }> {
    const setup = createNativeTransport(server.url);
    await register(setup, username, "correct-horse-battery").catch(() => undefined);
    const session = await login(setup, { username, password: "correct-horse-battery", deviceName: "t" });
    return { token: session.token, userId: session.userId };
  }

  /** Runs one Connect call: `frames`, then the request stays open until `endWhen` says so (or the call ends). */
  async function run(
    transport: Transport,
    token: string | undefined,
    frames: Request[],
    opts: { endWhen?: (events: string[]) => boolean; abortWhen?: (events: string[]) => boolean; timeoutMs?: number } = {},
  ): Promise<Seen> {
    const chat = createClient(ChatService, token ? withBearerToken(transport, token) : transport);
    const seen: Seen = { encoding: null, events: [] };
    const abort = new AbortController();
    let release = (): void => {};
    const released = new Promise<void>((r) => (release = r));
    async function* requests(): AsyncGenerator<Request> {
      yield* frames;
      await released;
    }
    try {
      for await (const response of chat.connect(requests(), {
        signal: abort.signal,
        ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
        onHeader: (h) => (seen.encoding = h.get("grpc-encoding")),
      })) {
        for (const e of response.events.length > 0 ? response.events : [response.event!]) seen.events.push(e.event.case ?? "");
        if (opts.endWhen?.(seen.events)) release();
        if (opts.abortWhen?.(seen.events)) abort.abort();
      }
    } catch (err) {
      const e = ConnectError.from(err);
      seen.code = Code[e.code];
      seen.reason = ErrorReason[e.findDetails(ErrorDetailSchema)[0]?.reason ?? 0];
    } finally {
      release();
    }
    return seen;
  }

  /** The same scenario through both transports (a fresh user each); expects the same view and returns it. */
  async function same(scenario: (transport: Transport, tag: string) => Promise<Seen>): Promise<Seen> {
    const views: Seen[] = [];
    for (const [name, make] of transports) views.push(await scenario(make(server.url), `${name}_${crypto.randomUUID().slice(0, 8)}`));
    expect(views[0]).toEqual(views[1]!);
    return views[0]!;
  }

  const hello: Request = { frame: { case: "hello", value: { acceptEventBatches: true } } };
  const ping: Request = { frame: { case: "ping", value: { nonce: 1n } } };
  const caughtUp = (events: string[]) => events.includes("syncComplete");

  test("hello, welcome and catch-up, then the client's half-close ends the call with OK", async () => {
    const seen = await same(async (t, tag) => run(t, (await device(`nt_ok_${tag}`)).token, [hello], { endWhen: caughtUp }));
    expect(seen.events).toEqual(["welcome", "syncComplete"]);
    expect(seen.code).toBeUndefined();
  });

  const refusals: [string, Request[], boolean, string, string][] = [
    ["a hello without a token", [hello], false, "Unauthenticated", "TOKEN_MISSING"],
    ["a first frame that is not a hello", [ping], true, "InvalidArgument", "HELLO_REQUIRED"],
  ];
  test.each(refusals)("%s ends the call with the same code and reason", async (_name, frames, withToken, code, reason) => {
    const seen = await same(async (t, tag) => run(t, withToken ? (await device(`nt_r_${tag}`)).token : undefined, frames));
    expect(seen).toMatchObject({ code, reason, events: [] });
  });

  test("a big catch-up arrives gzipped and whole", async () => {
    const seen = await same(async (t, tag) => {
      const sender = await device(`nt_s_${tag}`);
      const reader = await device(`nt_g_${tag}`);
      const chat = createClient(ChatService, withBearerToken(t, sender.token));
      const { conversation } = await chat.startConversation({ peer: { case: "peerUserId", value: reader.userId } });
      let lastId = "";
      for (let i = 0; i < 16; i++) {
        lastId = crypto.randomUUID();
        await chat.sendMessage({ clientMsgId: lastId, conversationId: conversation!.conversationId, text: `line ${i} `.repeat(512) });
      }
      // The worker stores asynchronously: wait until the conversation shows the last message.
      const readerChat = createClient(ChatService, withBearerToken(t, reader.token));
      for (let i = 0; i < 100; i++) {
        const list = await readerChat.listConversations({});
        if (list.conversations.some((c) => c.lastMessage?.clientMsgId === lastId)) break;
        await Bun.sleep(50);
      }
      return run(t, reader.token, [hello], { endWhen: caughtUp });
    });
    expect(seen.encoding).toBe("gzip");
    expect(seen.events.filter((e) => e === "message").length).toBe(16);
  });

  test("a call past its deadline ends with deadline_exceeded", async () => {
    const seen = await same(async (t, tag) => run(t, (await device(`nt_d_${tag}`)).token, [hello], { timeoutMs: 300 }));
    expect(seen).toMatchObject({ code: "DeadlineExceeded", events: ["welcome", "syncComplete"] });
  });

  test("aborting the call ends it with canceled, and the server ends the session", async () => {
    const openStreams = async () => Number(/^chat_open_streams (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    const before = await openStreams();
    const seen = await same(async (t, tag) => run(t, (await device(`nt_a_${tag}`)).token, [hello], { abortWhen: caughtUp }));
    expect(seen).toMatchObject({ code: "Canceled", events: ["welcome", "syncComplete"] });
    let now = await openStreams();
    for (let i = 0; i < 100 && now !== before; i++) {
      await Bun.sleep(20);
      now = await openStreams();
    }
    expect(now).toBe(before);
  });
});

/**
 * A server that answers a Connect call with its head and one Welcome, then
 * breaks it: RST_STREAM with `rstCode`, or the whole connection dropped.
 */
async function breakingServer(breakWith: number | "drop"): Promise<{ url: string; close(): void }> {
  const server = http2.createServer();
  server.on("stream", (stream: http2.ServerHttp2Stream) => {
    stream.on("error", () => {});
    stream.respond({ ":status": 200, "content-type": "application/grpc+proto" });
    const welcome = toBinary(ConnectResponseSchema, create(ConnectResponseSchema, { event: { event: { case: "welcome", value: {} } } }));
    stream.write(envelopeOf(welcome, Infinity), () => {
      setTimeout(() => (breakWith === "drop" ? stream.session?.destroy() : stream.close(breakWith)), 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

describe("native transport: a call the server breaks ends as with connect-node", () => {
  // Under Bun both transports see these breaks alike, as a call that ended without its status
  // (internal): what matters is that they agree, and that the call fails after its Welcome.
  const cases: [string, number | "drop"][] = [
    ["RST_STREAM INTERNAL_ERROR", http2.constants.NGHTTP2_INTERNAL_ERROR],
    ["RST_STREAM REFUSED_STREAM", http2.constants.NGHTTP2_REFUSED_STREAM],
    ["RST_STREAM ENHANCE_YOUR_CALM", http2.constants.NGHTTP2_ENHANCE_YOUR_CALM],
    ["the connection dropped", "drop"],
  ];
  test.each(cases)("%s", async (_name, breakWith) => {
    const seen: string[] = [];
    for (const make of [(url: string) => createNativeTransport(url), (url: string) => createGrpcTransport({ baseUrl: url })]) {
      const server = await breakingServer(breakWith);
      try {
        const chat = createClient(ChatService, make(server.url));
        async function* requests(): AsyncGenerator<Request> {
          yield { frame: { case: "hello", value: {} } };
          await Bun.sleep(2_000);
        }
        const events: string[] = [];
        try {
          for await (const r of chat.connect(requests())) events.push(r.event?.event.case ?? "");
          seen.push("ended without an error");
        } catch (err) {
          seen.push(`${events.join(",")} ${Code[ConnectError.from(err).code]}`);
        }
      } finally {
        server.close();
      }
    }
    expect(seen[0]).toStartWith("welcome ");
    expect(seen[1]).toBe(seen[0]!);
  });
});
