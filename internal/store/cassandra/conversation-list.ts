import {
  asConversationId,
  asDeviceId,
  asUserId,
  type ConversationSummary,
  type UserId,
} from "../../domain/index.ts";
import { CQL, num, str } from "./cassandra-statements.ts";
import type { CqlRow, CqlSession } from "./cql-session.ts";
import type { MessagePages } from "./message-pages.ts";

/** List entries read per page; a user's whole list is one partition. */
const LIST_PAGE = 500;
/** Unread counts computed at once for one list. */
const COUNT_CONCURRENCY = 16;

/**
 * A user's conversation list, most recent activity first (then most
 * recently created, then id). One partition read gives every entry with its
 * head, last message and both watermarks (all denormalised into the entry at
 * write time). Unread counts then cost nothing for a conversation the user
 * has read up to the peer's last message (`last_in_seq <= own read`), and at
 * most `unreadCountCap + 1` message rows for the others: the count is exact
 * up to the cap, and a count equal to the cap means "cap or more" (a client
 * shows "999+"). When the user has sent many messages of their own since
 * their read mark, only the newest cap + 1 messages are looked at, so the
 * count is then a lower bound; the client normally moves the read mark when
 * its user writes, which keeps this rare.
 */
export async function listConversations(
  session: CqlSession,
  pages: MessagePages,
  userId: UserId,
  unreadCountCap: number,
): Promise<ConversationSummary[]> {
  const rows = await session.allRows("listConversations", CQL.listEntries, [userId], LIST_PAGE);
  // An entry without its creation cells is a half-written ensureConversation
  // (its retry completes it): nothing to show yet.
  const entries = rows.filter((r) => str(r, "user_a") !== "");
  const summaries = await mapBounded(entries, COUNT_CONCURRENCY, async (row) => {
    const summary = toSummary(row, userId);
    const lastIncoming = num(row, "last_in_seq");
    if (lastIncoming <= summary.own.readSeq) return { summary, activityMs: activityOf(row) };
    const count = await pages.countFrom(
      summary.conversation.id,
      summary.peerUserId,
      summary.own.readSeq,
      lastIncoming,
      unreadCountCap + 1,
    );
    return { summary: { ...summary, unreadCount: Math.min(count, unreadCountCap) }, activityMs: activityOf(row) };
  });
  summaries.sort(
    (x, y) =>
      y.activityMs - x.activityMs ||
      y.summary.conversation.createdAtMs - x.summary.conversation.createdAtMs ||
      (x.summary.conversation.id < y.summary.conversation.id ? -1 : 1),
  );
  return summaries.map((s) => s.summary);
}

/** Activity is the head message's send time, or the creation time before any message. */
function activityOf(row: CqlRow): number {
  return num(row, "head_seq") > 0 ? num(row, "last_activity_ms") : num(row, "created_at_ms");
}

function toSummary(r: CqlRow, userId: UserId): ConversationSummary {
  const conversationId = asConversationId(str(r, "conversation_id"));
  const userA = asUserId(str(r, "user_a"));
  const userB = asUserId(str(r, "user_b"));
  const headSeq = num(r, "head_seq");
  return {
    conversation: { id: conversationId, userA, userB, createdAtMs: num(r, "created_at_ms") },
    peerUserId: userA === userId ? userB : userA,
    headSeq,
    lastMessage:
      headSeq > 0
        ? {
            conversationId,
            seq: headSeq,
            prevSeq: num(r, "last_prev_seq"),
            senderUserId: asUserId(str(r, "last_sender_user_id")),
            senderDeviceId: asDeviceId(str(r, "last_sender_device_id")),
            clientMsgId: str(r, "last_client_msg_id"),
            text: str(r, "last_text"),
            sentAtMs: num(r, "last_sent_at_ms"),
          }
        : undefined,
    unreadCount: 0,
    own: { deliveredSeq: num(r, "own_delivered_seq"), readSeq: num(r, "own_read_seq") },
    peer: { deliveredSeq: num(r, "peer_delivered_seq"), readSeq: num(r, "peer_read_seq") },
  };
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
