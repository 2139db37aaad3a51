import type { ConversationId, Seq, StoredMessage, UserId } from "../../domain/index.ts";
import { bucketOf } from "../index.ts";
import { CQL, num, str, toMessage } from "./cassandra-statements.ts";
import type { CqlSession } from "./cql-session.ts";

/** Reads of a conversation's messages across its buckets. */
export interface MessagePages {
  /** The highest stored seq strictly below `seq` (0 if none). */
  lastSeqBefore(conversationId: ConversationId, seq: Seq): Promise<Seq>;
  headSeq(conversationId: ConversationId): Promise<Seq>;
  messagesAfter(conversationId: ConversationId, afterSeq: Seq, limit: number): Promise<StoredMessage[]>;
  messagesBefore(conversationId: ConversationId, beforeSeq: Seq, limit: number): Promise<StoredMessage[]>;
  /**
   * How many of the newest `window` messages with readSeq < seq <= upToSeq
   * were sent by `sender`: exact when the range holds at most `window`
   * messages, a lower bound otherwise. Reads at most `window` rows.
   */
  countFrom(
    conversationId: ConversationId,
    sender: UserId,
    readSeq: Seq,
    upToSeq: Seq,
    window: number,
  ): Promise<number>;
}

/** Seqs stay below 2^53 (docs/sequencing.md); bounds are clamped to it before binding. */
const SEQ_LIMIT = 2 ** 53;
const TOP_BUCKET = bucketOf(SEQ_LIMIT - 1);
/** Directory rows fetched per read: most pages need one or two buckets, a deep one a few more. */
const DIRECTORY_PAGE = 16;

/**
 * Bucket-aware paging. Seqs are log positions shared with other
 * conversations, so a conversation's messages can be millions of buckets
 * apart. No read probes a bucket on the chance it holds something: every
 * walk first reads the conversation's bucket directory (message_buckets,
 * one small partition clustered by bucket DESC) for the next few buckets
 * that do hold messages, in the direction of travel and within the seq
 * range asked for, then reads only those. Cost of a page: one directory read
 * per DIRECTORY_PAGE buckets plus one read per bucket that contributes rows,
 * whatever the distance in seq space.
 *
 * A directory entry can exist without messages only after an append failed
 * half-way (the two are written in parallel); walks skip such a bucket and
 * the worker's retry fills it.
 */
export function createMessagePages(session: CqlSession): MessagePages {
  /**
   * Calls `visit` for each bucket with messages from `from` towards `to`
   * (both inclusive), in order, until it returns true. Terminates: each
   * directory read starts strictly past the previous one's last bucket.
   */
  async function walk(
    op: string,
    conversationId: ConversationId,
    direction: "down" | "up",
    from: number,
    to: number,
    visit: (bucket: number) => Promise<boolean>,
  ): Promise<void> {
    const down = direction === "down";
    for (let cursor = from; down ? cursor >= to : cursor <= to; ) {
      const rows = await session.rows(op, down ? CQL.bucketsDown : CQL.bucketsUp, [
        conversationId,
        cursor,
        to,
        DIRECTORY_PAGE,
      ]);
      for (const row of rows) if (await visit(num(row, "bucket"))) return;
      const last = rows.at(-1);
      if (rows.length < DIRECTORY_PAGE || last === undefined) return;
      cursor = down ? num(last, "bucket") - 1 : num(last, "bucket") + 1;
    }
  }

  async function lastSeqBefore(conversationId: ConversationId, seq: Seq): Promise<Seq> {
    const bound = Math.min(seq, SEQ_LIMIT);
    if (!(bound > 0)) return 0;
    let found = 0;
    await walk("lastSeqBefore", conversationId, "down", bucketOf(bound - 1), 0, async (bucket) => {
      const [row] = await session.rows("lastSeqBefore", CQL.seqBelow, [conversationId, bucket, bound]);
      if (row) found = num(row, "seq");
      return row !== undefined;
    });
    return found;
  }

  return {
    lastSeqBefore,
    headSeq: (conversationId) => lastSeqBefore(conversationId, SEQ_LIMIT),

    async messagesAfter(conversationId, afterSeq, limit) {
      const n = rowLimit(limit);
      const bound = Math.max(afterSeq, -1);
      if (n === 0 || !(bound < SEQ_LIMIT - 1)) return [];
      const out: StoredMessage[] = [];
      await walk("messagesAfter", conversationId, "up", bucketOf(bound + 1), TOP_BUCKET, async (bucket) => {
        const params = [conversationId, bucket, bound, n - out.length];
        const rows = await session.rows("messagesAfter", CQL.messagesUp, params);
        out.push(...rows.map(toMessage));
        return out.length >= n;
      });
      return out;
    },

    async messagesBefore(conversationId, beforeSeq, limit) {
      const n = rowLimit(limit);
      const bound = Math.min(beforeSeq, SEQ_LIMIT);
      if (n === 0 || !(bound > 0)) return [];
      const out: StoredMessage[] = [];
      await walk("messagesBefore", conversationId, "down", bucketOf(bound - 1), 0, async (bucket) => {
        const params = [conversationId, bucket, bound, n - out.length];
        const rows = await session.rows("messagesBefore", CQL.messagesDown, params);
        out.push(...rows.map(toMessage));
        return out.length >= n;
      });
      return out.reverse();
    },

    async countFrom(conversationId, sender, readSeq, upToSeq, window) {
      const low = Math.max(readSeq, 0);
      const high = Math.min(upToSeq, SEQ_LIMIT - 1);
      if (high <= low || window <= 0) return 0;
      let scanned = 0;
      let count = 0;
      await walk("listConversations", conversationId, "down", bucketOf(high), bucketOf(low + 1), async (bucket) => {
        const rows = await session.rows("listConversations", CQL.sendersInRange, [
          conversationId,
          bucket,
          low,
          high,
          window - scanned,
        ]);
        scanned += rows.length;
        for (const row of rows) if (str(row, "sender_user_id") === sender) count++;
        return scanned >= window;
      });
      return count;
    },
  };
}

/** The port's limit as a CQL LIMIT (an int, > 0): 0 means "read nothing", since CQL refuses LIMIT 0. */
function rowLimit(limit: number): number {
  if (Number.isNaN(limit)) return 0;
  return Math.max(0, Math.min(Math.floor(limit), 2 ** 31 - 1));
}
