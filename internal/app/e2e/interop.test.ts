import { expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { join } from "node:path";
import { ChatService, type ServerEvent } from "../../../gen/chat/v1/chat_service_pb.ts";
import { textOf } from "./event-helpers.ts";
import { newDevice } from "./raw-device.ts";
import { describeEachMode, useTestServer } from "./test-servers.ts";

describeEachMode("interop", (mode) => {
  const server = useTestServer(mode);

  /** The service as a native app would load it: @grpc/grpc-js with the .proto files, no generated TS. */
  function nativeChatClient(url: string) {
    const def = protoLoader.loadSync(join(import.meta.dir, "../../../proto/chat/v1/chat_service.proto"), {
      includeDirs: [join(import.meta.dir, "../../../proto")],
      longs: String,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      chat: { v1: { ChatService: new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & { Connect(): grpc.ClientDuplexStream<object, { event: unknown }> } } };
    };
    return new pkg.chat.v1.ChatService(url.replace("http://", ""), grpc.credentials.createInsecure());
  }

  test("a native @grpc/grpc-js client and a Connect-Web style client (HTTP/1.1, subscribe + unary) chat", async () => {
    const native = await newDevice(server().url, "io_native");
    const web = await newDevice(server().url, "io_web", { protocol: "connect" });
    const { conversation } = await native.chat.startConversation({ peer: { case: "peerUsername", value: "io_web" } });
    const conversationId = conversation!.conversationId;

    // Web side: server stream over Connect/HTTP 1.1, sends via unary calls.
    const webEvents: ServerEvent[] = [];
    const webChat = createClient(
      ChatService,
      createConnectTransport({
        baseUrl: server().url,
        httpVersion: "1.1",
        interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${web.token}`), next(req))],
      }),
    );
    const webAbort = new AbortController();
    const webStream = (async () => {
      try {
        for await (const r of webChat.subscribe({ cursors: [] }, { signal: webAbort.signal })) if (r.event) webEvents.push(r.event);
      } catch {
        /* aborted at the end */
      }
    })();

    // Native side: grpc-js bidi stream with metadata-less hello auth.
    const client = nativeChatClient(server().url);
    const nativeEvents: any[] = [];
    const call = client.Connect();
    call.on("data", (r: any) => nativeEvents.push(r.event));
    call.on("error", () => undefined);
    call.write({ hello: { token: native.token, cursors: [] } });

    const until = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 5_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await Bun.sleep(10);
      }
    };
    await until(() => nativeEvents.some((e) => e.event === "syncComplete"), "native sync");
    await until(() => webEvents.some((e) => e.event.case === "syncComplete"), "web sync");

    call.write({ send: { clientMsgId: crypto.randomUUID(), conversationId, text: "from grpc-js" } });
    await until(() => webEvents.some((e) => e.event.case === "message" && textOf(e.event.value) === "from grpc-js"), "web receive");
    const got = webEvents.find((e) => e.event.case === "message")!;
    const seq = got.event.case === "message" ? got.event.value.seq : 0n;
    await webChat.ack({ conversationId, seq });

    await webChat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: "from connect-web" });
    await until(() => nativeEvents.some((e) => e.event === "message" && e.message.text === "from connect-web"), "native receive");
    await until(
      () => nativeEvents.some((e) => e.event === "receipt" && e.receipt.userId === web.userId && BigInt(e.receipt.deliveredSeq) === seq),
      "native sees delivered",
    );
    const mine = nativeEvents.filter((e) => e.event === "message").map((e) => e.message.text);
    expect(mine).toEqual(["from grpc-js", "from connect-web"]);
    call.end();
    client.close();
    webAbort.abort();
    await webStream;
  });
});
