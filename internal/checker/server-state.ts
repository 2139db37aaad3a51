import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ChatService } from "../../gen/chat/v1/chat_service_pb.ts";
import type { Conversation } from "../../gen/chat/v1/types_pb.ts";
import { withBearerToken } from "../client/index.ts";
import type { HeldMessage, HistoryConversation, ServerConversation, WatermarkRecord } from "./history.ts";

/** A user the checker can act as on the server directly (not through a fault proxy). */
export interface UserCredentials {
  readonly userId: string;
  readonly token: string;
}

const historyPageSize = 200;
const maxHistoryPages = 10_000;

/** The ChatService as one user, straight to the server, on a fresh connection. */
export function directApi(url: string, token: string) {
  // HTTP/1.1 without keep-alive reuse across server restarts: every call opens its own connection.
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
  return createClient(ChatService, withBearerToken(transport, token));
}

/** Every conversation of every user as ListConversations shows it, keyed by user then conversation. */
export async function listAll(url: string, users: readonly UserCredentials[]): Promise<Map<string, Map<string, Conversation>>> {
  const lists = await Promise.all(
    users.map(async (u) => {
      const response = await directApi(url, u.token).listConversations({});
      return [u.userId, new Map(response.conversations.map((c) => [c.conversationId, c]))] as const;
    }),
  );
  return new Map(lists);
}

/** A participant's watermarks as its own ListConversations reports them. */
export function ownWatermarks(listed: Conversation | undefined, userId: string): WatermarkRecord {
  return {
    userId,
    deliveredSeq: Number(listed?.ownReceipt?.deliveredSeq ?? 0n),
    readSeq: Number(listed?.ownReceipt?.readSeq ?? 0n),
  };
}

async function fullHistory(url: string, token: string, conversationId: string): Promise<HeldMessage[]> {
  const api = directApi(url, token);
  const messages: HeldMessage[] = [];
  let afterSeq = 0;
  for (let page = 0; page < maxHistoryPages; page++) {
    const response = await api.getHistory({ conversationId, afterSeq: BigInt(afterSeq), forward: true, limit: historyPageSize });
    for (const m of response.messages) {
      messages.push({ seq: Number(m.seq), prevSeq: Number(m.prevSeq), clientMsgId: m.clientMsgId });
    }
    const last = response.messages[response.messages.length - 1];
    if (!response.hasMore || !last) return messages;
    afterSeq = Number(last.seq);
  }
  throw new Error(`history of ${conversationId} longer than ${maxHistoryPages} pages`);
}

/**
 * The server's authoritative end state of each conversation: its full
 * history (GetHistory pages) and each participant's watermarks and head
 * (each participant's own ListConversations).
 */
export async function collectServerState(
  url: string,
  users: readonly UserCredentials[],
  conversations: readonly HistoryConversation[],
): Promise<ServerConversation[]> {
  const lists = await listAll(url, users);
  const tokens = new Map(users.map((u) => [u.userId, u.token]));
  const result: ServerConversation[] = [];
  for (const c of conversations) {
    const [a, b] = c.userIds;
    const listedA = lists.get(a)?.get(c.conversationId);
    const listedB = lists.get(b)?.get(c.conversationId);
    result.push({
      conversationId: c.conversationId,
      headSeq: Number(listedA?.headSeq ?? listedB?.headSeq ?? 0n),
      messages: await fullHistory(url, tokens.get(a) as string, c.conversationId),
      watermarks: [ownWatermarks(listedA, a), ownWatermarks(listedB, b)],
    });
  }
  return result;
}
