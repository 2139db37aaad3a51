import { beforeAll, describe, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import http2 from "node:http2";
import { ChatService } from "../../../gen/chat/v1/chat_service_pb.ts";
import { ErrorDetailSchema, ErrorReason } from "../../../gen/chat/v1/types_pb.ts";
import { createTokenSigner } from "../../auth/index.ts";
import { asDeviceId, asUserId } from "../../domain/index.ts";
import { envelopeOf } from "../../grpc/envelopes.ts";
import { isMessage, textOf } from "./event-helpers.ts";
import { newDevice, type RawDevice } from "./raw-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

const MAX = 1024;

async function refusal(p: Promise<unknown>): Promise<{ code: Code; reason: ErrorReason }> {
  try {
    await p;
  } catch (err) {
    const ce = ConnectError.from(err);
    return { code: ce.code, reason: ce.findDetails(ErrorDetailSchema)[0]?.reason ?? ErrorReason.UNSPECIFIED };
  }
  throw new Error("expected the call to be refused");
}

describeEachMode("bad input", (mode) => {
  const server = useTestServer(mode, { gateway: { maxBodyBytes: MAX, sendBurst: 1_000 } });
  let alice: RawDevice;
  let bob: RawDevice;
  let carol: RawDevice;
  let conversationId: string;

  beforeAll(async () => {
    alice = await newDevice(server().url, "bad_alice");
    bob = await newDevice(server().url, "bad_bob");
    carol = await newDevice(server().url, "bad_carol");
    const r = await alice.chat.startConversation({ peer: { case: "peerUsername", value: "bad_bob" } });
    conversationId = r.conversation!.conversationId;
    await carol.chat.startConversation({ peer: { case: "peerUsername", value: "bad_bob" } });
  });

  async function assertNothingStored(): Promise<void> {
    const list = await alice.chat.listConversations({});
    const c = list.conversations.find((x) => x.conversationId === conversationId)!;
    expect(c.headSeq).toBe(0n);
    const bobList = await bob.chat.listConversations({});
    expect(bobList.conversations.every((x) => x.headSeq === 0n)).toBe(true);
  }

  const uuid = () => crypto.randomUUID();
  /** Alice over Connect JSON: a lone surrogate survives JSON (binary encoding would replace it). */
  const aliceJson = () =>
    createClient(
      ChatService,
      createConnectTransport({
        baseUrl: server().url,
        httpVersion: "1.1",
        useBinaryFormat: false,
        interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${alice.token}`), next(req))],
      }),
    );

  describe("refused with a code and a reason, nothing stored", () => {
    const cases: [string, () => Promise<unknown>, Code, ErrorReason][] = [
      ["body over the size limit", () => alice.chat.sendMessage({ clientMsgId: uuid(), conversationId, text: "x".repeat(MAX + 1) }), Code.InvalidArgument, ErrorReason.BODY_TOO_LARGE],
      ["multi-byte body over the limit in bytes", () => alice.chat.sendMessage({ clientMsgId: uuid(), conversationId, text: "é".repeat(MAX / 2 + 1) }), Code.InvalidArgument, ErrorReason.BODY_TOO_LARGE],
      ["empty body", () => alice.chat.sendMessage({ clientMsgId: uuid(), conversationId, text: "" }), Code.InvalidArgument, ErrorReason.BODY_EMPTY],
      // Refused while decoding (before any handler runs): the code is the contract, the reason is unspecified.
      ["lone surrogate (not UTF-8) over JSON", () => aliceJson().sendMessage({ clientMsgId: uuid(), conversationId, text: "a\ud800b" }), Code.InvalidArgument, ErrorReason.UNSPECIFIED],
      ["client_msg_id not a UUID", () => alice.chat.sendMessage({ clientMsgId: "1", conversationId, text: "hi" }), Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT],
      ["unknown conversation", () => alice.chat.sendMessage({ clientMsgId: uuid(), conversationId: `c_${"0".repeat(32)}`, text: "hi" }), Code.NotFound, ErrorReason.CONVERSATION_UNKNOWN],
      ["garbage conversation id", () => alice.chat.sendMessage({ clientMsgId: uuid(), conversationId: "../../etc", text: "hi" }), Code.NotFound, ErrorReason.CONVERSATION_UNKNOWN],
      ["foreign conversation (not a participant)", () => carol.chat.sendMessage({ clientMsgId: uuid(), conversationId, text: "hi" }), Code.PermissionDenied, ErrorReason.NOT_A_PARTICIPANT],
      ["ack beyond the head", () => bob.chat.ack({ conversationId, seq: 5n }), Code.OutOfRange, ErrorReason.SEQ_BEYOND_HEAD],
      ["read beyond the head", () => bob.chat.markRead({ conversationId, seq: 5n }), Code.OutOfRange, ErrorReason.SEQ_BEYOND_HEAD],
      ["ack of seq 0", () => bob.chat.ack({ conversationId, seq: 0n }), Code.InvalidArgument, ErrorReason.INVALID_ARGUMENT],
      ["history of a foreign conversation", () => carol.chat.getHistory({ conversationId, beforeSeq: 10n, limit: 10 }), Code.PermissionDenied, ErrorReason.NOT_A_PARTICIPANT],
      ["presence of a non-peer", () => alice.chat.getPresence({ userIds: [carol.userId] }), Code.PermissionDenied, ErrorReason.NOT_A_PEER],
      ["conversation with an unknown user", () => alice.chat.startConversation({ peer: { case: "peerUsername", value: "nobody_here" } }), Code.NotFound, ErrorReason.RECIPIENT_UNKNOWN],
    ];
    test.each(cases)("%s", async (_name, call, code, reason) => {
      expect(await refusal(call())).toEqual({ code, reason });
      await assertNothingStored();
    });
  });

  describe("authentication", () => {
    const chatWith = (token?: string) =>
      createClient(
        ChatService,
        createConnectTransport({
          baseUrl: server().url,
          httpVersion: "1.1",
          interceptors: token === undefined ? [] : [(next) => (req) => (req.header.set("authorization", `Bearer ${token}`), next(req))],
        }),
      );
    const signerAt = (nowMs: number) =>
      createTokenSigner({ secret: server().authSecret, ttlMs: 1_000 }, { clock: { nowMs: () => nowMs } });
    const tampered = () => {
      const [v, body, sig] = alice.token.split(".");
      const payload = JSON.parse(Buffer.from(body!, "base64url").toString());
      payload.u = bob.userId; // impersonate bob with alice's signature
      return `${v}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${sig}`;
    };
    const cases: [string, () => string | undefined, ErrorReason][] = [
      ["no token", () => undefined, ErrorReason.TOKEN_MISSING],
      ["garbage token", () => "not-a-token", ErrorReason.TOKEN_INVALID],
      ["forged payload (impersonation)", tampered, ErrorReason.TOKEN_INVALID],
      ["token signed with another key", () => createTokenSigner({ secret: "x".repeat(40), ttlMs: 60_000 }, { clock: { nowMs: Date.now } }).issue({ userId: asUserId(alice.userId), deviceId: asDeviceId(alice.deviceId) }).token, ErrorReason.TOKEN_INVALID],
      ["expired token", () => signerAt(Date.now() - 10_000).issue({ userId: asUserId(alice.userId), deviceId: asDeviceId(alice.deviceId) }).token, ErrorReason.TOKEN_EXPIRED],
    ];
    test.each(cases)("%s is unauthenticated", async (_name, token, reason) => {
      const chat = chatWith(token());
      expect(await refusal(chat.sendMessage({ clientMsgId: uuid(), conversationId, text: "hi" }))).toEqual({ code: Code.Unauthenticated, reason });
      expect(await refusal(chat.listConversations({}))).toEqual({ code: Code.Unauthenticated, reason });
      await assertNothingStored();
    });

    test("logging in on another user's device is refused", async () => {
      const { createClient: cc } = await import("@connectrpc/connect");
      const { AuthService } = await import("../../../gen/chat/v1/auth_service_pb.ts");
      const auth = cc(AuthService, createConnectTransport({ baseUrl: server().url, httpVersion: "1.1" }));
      expect(await refusal(auth.login({ username: "bad_carol", password: "correct-horse-battery", deviceId: alice.deviceId }))).toEqual({
        code: Code.NotFound,
        reason: ErrorReason.DEVICE_UNKNOWN,
      });
      expect(await refusal(auth.login({ username: "bad_carol", password: "wrong-password" }))).toEqual({
        code: Code.Unauthenticated,
        reason: ErrorReason.BAD_CREDENTIALS,
      });
    });
  });

  describe("malformed bytes on the wire", () => {
    function rawCall(path: string, contentType: string, body: Uint8Array): Promise<{ status: string; grpcStatus?: string }> {
      return new Promise((resolve, reject) => {
        const client = http2.connect(server().url);
        client.on("error", reject);
        const req = client.request({
          ":method": "POST",
          ":path": path,
          "content-type": contentType,
          authorization: `Bearer ${alice.token}`,
          te: "trailers",
        });
        let status = "";
        let grpcStatus: string | undefined;
        req.on("response", (h) => {
          status = String(h[":status"]);
          if (h["grpc-status"]) grpcStatus = String(h["grpc-status"]);
        });
        req.on("trailers", (t) => {
          if (t["grpc-status"]) grpcStatus = String(t["grpc-status"]);
        });
        req.on("data", () => undefined);
        req.on("end", () => {
          client.close();
          resolve({ status, grpcStatus });
        });
        req.end(body);
      });
    }
    const grpcFrame = (payload: Uint8Array) => envelopeOf(payload, Infinity);
    // SendMessageRequest{client_msg_id: uuid, conversation_id, text: 0xff 0xfe} — text is not UTF-8.
    const invalidUtf8 = () => {
      const enc = new TextEncoder();
      const id = enc.encode(uuid());
      const conv = enc.encode(conversationId);
      return new Uint8Array([0x0a, id.length, ...id, 0x12, conv.length, ...conv, 0x1a, 2, 0xff, 0xfe]);
    };
    const cases: [string, string, string, () => Uint8Array][] = [
      ["invalid UTF-8 text over gRPC", "/chat.v1.ChatService/SendMessage", "application/grpc", () => grpcFrame(invalidUtf8())],
      ["truncated protobuf over gRPC", "/chat.v1.ChatService/SendMessage", "application/grpc", () => grpcFrame(new Uint8Array([0x0a, 0x7f, 0x41]))],
      ["huge varint length over gRPC", "/chat.v1.ChatService/SendMessage", "application/grpc", () => grpcFrame(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))],
      ["garbage hello on the bidi stream", "/chat.v1.ChatService/Connect", "application/grpc", () => grpcFrame(new Uint8Array([0xff, 0xff, 0xff]))],
      // Server streaming: the status travels in the trailers written after the (empty) body.
      ["garbage subscribe request", "/chat.v1.ChatService/Subscribe", "application/grpc", () => grpcFrame(new Uint8Array([0x0a, 0x7f, 0x41]))],
    ];
    test.each(cases)("%s -> InvalidArgument", async (_name, path, ct, body) => {
      const r = await rawCall(path, ct, body());
      expect(r.grpcStatus).toBe(String(Code.InvalidArgument));
      await assertNothingStored();
    });
    test("invalid UTF-8 over Connect binary -> 400 invalid_argument", async () => {
      const res = await fetch(`${server().url}/chat.v1.ChatService/SendMessage`, {
        method: "POST",
        headers: { "content-type": "application/proto", authorization: `Bearer ${alice.token}` },
        body: invalidUtf8(),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
      await assertNothingStored();
    });
  });

  test("a bidi stream refuses a bad frame with a StreamError and keeps working", async () => {
    await alice.connect();
    const from = alice.events.length;
    const badId = uuid();
    alice.send({ case: "send", value: { clientMsgId: badId, conversationId, text: "" } });
    const err = await alice.waitFor((e) => e.event.case === "error", 5_000, from);
    expect((err as any).event.value.reason).toBe(ErrorReason.BODY_EMPTY);
    expect((err as any).event.value.clientMsgId).toBe(badId);
    await assertNothingStored();
    const goodId = uuid();
    alice.send({ case: "send", value: { clientMsgId: goodId, conversationId, text: "still alive" } });
    await alice.waitFor((e) => e.event.case === "sendResult" && e.event.value.clientMsgId === goodId, 5_000, from);
    // Once the good message is stored (its echo arrives), it is the conversation's
    // only one: nothing refused earlier was sequenced before it, however late the
    // worker (another process, in distributed mode) would have stored it.
    await alice.waitFor(isMessage("still alive"), 10_000, from);
    const history = await bob.chat.getHistory({ conversationId, forward: true, afterSeq: 0n, limit: 10 });
    expect(history.messages.map(textOf)).toEqual(["still alive"]);
    await alice.disconnect();
  });

  test("the first frame must be a hello", async () => {
    const chat = alice.chat;
    async function* frames() {
      yield { $typeName: "chat.v1.ConnectRequest" as const, frame: { case: "ping" as const, value: { $typeName: "chat.v1.Ping" as const, nonce: 1n } } };
    }
    const r = await refusal((async () => {
      for await (const _ of chat.connect(frames())) {
        /* drain */
      }
    })());
    expect(r).toEqual({ code: Code.InvalidArgument, reason: ErrorReason.HELLO_REQUIRED });
  });

  describe("rate limit", () => {
    // A server of its own: the shared one allows a large burst for the cases above.
    const limited = useTestServer(mode, { gateway: { sendRatePerSec: 1, sendBurst: 3 } });

    test("too many requests are refused with RATE_LIMITED and others are unaffected", async () => {
      const a = await newDevice(limited().url, "rl_alice");
      await newDevice(limited().url, "rl_bob");
      const c = (await a.chat.startConversation({ peer: { case: "peerUsername", value: "rl_bob" } })).conversation!;
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, () => a.chat.sendMessage({ clientMsgId: uuid(), conversationId: c.conversationId, text: "spam" })),
      );
      const refused = results.filter((r) => r.status === "rejected");
      expect(refused.length).toBeGreaterThan(0);
      for (const r of refused) {
        const ce = ConnectError.from((r as PromiseRejectedResult).reason);
        expect(ce.code).toBe(Code.ResourceExhausted);
        expect(ce.findDetails(ErrorDetailSchema)[0]?.reason).toBe(ErrorReason.RATE_LIMITED);
      }
    });
  });
});
