import { describe, expect, test } from "bun:test";
import { toBinary } from "@bufbuild/protobuf";
import { GetHistoryRequestSchema } from "../../../gen/chat/v1/chat_service_pb.ts";
import { newDevice } from "./raw-device.ts";
import { useTestServer } from "./test-servers.ts";

describe("response compression [embedded]", () => {
  const server = useTestServer("embedded");

  test("a client that accepts gzip gets big responses compressed and small ones as they are", async () => {
    const alice = await newDevice(server().url, "cz_alice");
    await newDevice(server().url, "cz_bob");
    const { conversation } = await alice.chat.startConversation({ peer: { case: "peerUsername", value: "cz_bob" } });
    const conversationId = conversation!.conversationId;
    // Compressible text, 8 x 4 KiB: a full page is far above the threshold, one message far below.
    for (let i = 0; i < 8; i++) {
      await alice.chat.sendMessage({ clientMsgId: crypto.randomUUID(), conversationId, text: `line ${i} `.repeat(512) });
    }
    const history = async (limit: number) => {
      const body = toBinary(GetHistoryRequestSchema, { $typeName: "chat.v1.GetHistoryRequest", conversationId, forward: true, afterSeq: 0n, beforeSeq: 0n, limit } as never);
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(`${server().url}/chat.v1.ChatService/GetHistory`, {
          method: "POST",
          headers: { "content-type": "application/proto", "accept-encoding": "gzip", authorization: `Bearer ${alice.token}` },
          body,
          // Keep the encoded bytes: fetch would otherwise decompress and drop the header.
          decompress: false,
        } as RequestInit);
        const bytes = new Uint8Array(await res.arrayBuffer());
        // The worker stores asynchronously: wait until the page is complete.
        if (bytes.length > 4_000 * Math.min(limit, 8) * 0.9 || res.headers.get("content-encoding") === "gzip" || attempt > 50) {
          return { status: res.status, encoding: res.headers.get("content-encoding"), bytes: bytes.length };
        }
        await Bun.sleep(100);
      }
    };
    const page = await history(8);
    expect(page.status).toBe(200);
    expect(page.encoding).toBe("gzip");
    expect(page.bytes).toBeLessThan(8 * 4_000);
    const one = await history(1);
    expect(one.status).toBe(200);
    expect(one.encoding).toBeNull();
  });
});
