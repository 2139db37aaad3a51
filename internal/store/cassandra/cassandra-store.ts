import {
  asConversationId,
  asUserId,
  isParticipant,
  peerOf,
  type Conversation,
  type ConversationId,
  type Seq,
  type UserId,
  type Watermarks,
} from "../../domain/index.ts";
import { bucketOf, type AccountStore, type MessageStore } from "../index.ts";
import { createCassandraAccounts } from "./cassandra-accounts.ts";
import { assertValidConfig, DEFAULT_UNREAD_COUNT_CAP, type CassandraStoreConfig } from "./cassandra-config.ts";
import { CQL, num, str, toConversation } from "./cassandra-statements.ts";
import { listConversations } from "./conversation-list.ts";
import { isSchemaMissing, openCqlSession, type CqlSession } from "./cql-session.ts";
import { createMessagePages } from "./message-pages.ts";
import { assertSchemaCurrent, migrateCassandra } from "./migrate-cassandra.ts";
import { firstWins, maxWins } from "./write-versions.ts";

/** Collaborators: the logger hears about migrations and the open. */
export interface CassandraStoreDeps {
  readonly logger: { info(fields: object, message: string): void };
}

/** Conversations whose participants are cached (immutable data; cleared when full). */
const MAX_CACHED_CONVERSATIONS = 10_000;
/** Directory entries this client knows are stored (they are never removed); cleared when full. */
const MAX_KNOWN_BUCKETS = 100_000;
/** Device cursors read per page (one partition per device). */
const CURSOR_PAGE = 1_000;

/**
 * The message and account store on Cassandra (DESIGN §7), the model the
 * SQLite adapter mirrors. Connects, checks that the keyspace carries every
 * schema version this build needs (migrating first only when cfg.migrate is
 * true), and rejects with BackendUnavailableError if no node answers.
 *
 * Monotonic state (watermarks, cursors, list heads) is written with the value
 * as the write timestamp, so racing or replaying writers converge on the max
 * with no read and no lightweight transaction: see write-versions.ts.
 */
export async function createCassandraStore(
  cfg: CassandraStoreConfig,
  deps: CassandraStoreDeps,
): Promise<MessageStore & AccountStore> {
  assertValidConfig(cfg);
  if (cfg.migrate === true) await migrateCassandra(cfg, deps);
  const session = await openKeyspace(cfg);
  deps.logger.info({ keyspace: cfg.keyspace, consistency: cfg.consistency }, "cassandra store open");
  return {
    ...createMessageStore(session, cfg.unreadCountCap ?? DEFAULT_UNREAD_COUNT_CAP),
    ...createCassandraAccounts(session),
  };
}

async function openKeyspace(cfg: CassandraStoreConfig): Promise<CqlSession> {
  const session = await openCqlSession(cfg, cfg.keyspace).catch((error: unknown) => {
    if (!isSchemaMissing(error)) throw error;
    throw new Error(`cassandra keyspace ${cfg.keyspace} does not exist: run cmd/migrate (STORE_URL=...)`, {
      cause: error,
    });
  });
  try {
    await assertSchemaCurrent(session, cfg.keyspace);
  } catch (error) {
    await session.close();
    throw error;
  }
  return session;
}

function createMessageStore(session: CqlSession, unreadCountCap: number): MessageStore {
  const pages = createMessagePages(session);
  const participants = new Map<ConversationId, Conversation>();
  const knownBuckets = new Set<string>();

  /** The bucket's directory entry, written once per bucket per client instead of once per message. */
  const registerBucket = async (conversationId: ConversationId, bucket: number, version: number): Promise<void> => {
    const key = `${conversationId}|${bucket}`;
    if (knownBuckets.has(key)) return;
    await session.write("appendMessage", CQL.insertBucket, [conversationId, bucket, version]);
    if (knownBuckets.size >= MAX_KNOWN_BUCKETS) knownBuckets.clear();
    knownBuckets.add(key);
  };

  /** The conversation, from cache when seen before: who is in it never changes. */
  const conversationOf = async (id: ConversationId): Promise<Conversation | undefined> => {
    const hit = participants.get(id);
    if (hit) return hit;
    const [row] = await session.rows("getConversation", CQL.getConversation, [id]);
    if (!row) return undefined;
    if (participants.size >= MAX_CACHED_CONVERSATIONS) participants.clear();
    const conversation = toConversation(row);
    participants.set(id, conversation);
    return conversation;
  };

  /**
   * The registers of one row that this advance raises: delivered always (read
   * implies delivered), read only when it is advanced, so an ack, the common
   * case, writes one cell per row instead of two. Coalesced with the other
   * small writes of the turn (a batch's receipts and cursors share requests).
   */
  const watermarkWrites = async (op: string, delivered: Seq, read: Seq, queries: [string, string], key: [string, string]) => {
    await Promise.all([
      session.write(op, queries[0], [maxWins(delivered), delivered, ...key]),
      ...(read > 0 ? [session.write(op, queries[1], [maxWins(read), read, ...key])] : []),
    ]);
  };

  return {
    async ensureConversation(c) {
      const version = firstWins(c.createdAtMs);
      const entry = (user: UserId) =>
        session.rows("ensureConversation", CQL.createListEntry, [version, c.userA, c.userB, c.createdAtMs, user, c.id]);
      // List entries first: once the conversation row exists, so do both entries.
      await Promise.all([entry(c.userA), entry(c.userB)]);
      await session.rows("ensureConversation", CQL.insertConversation, [
        c.id, c.userA, c.userB, c.createdAtMs, version,
      ]);
    },
    async getConversation(id) {
      const [row] = await session.rows("getConversation", CQL.getConversation, [id]);
      return row ? toConversation(row) : undefined;
    },
    async findDedup(conversationId, clientMsgId) {
      const [row] = await session.rows("findDedup", CQL.findDedup, [conversationId, clientMsgId]);
      return row ? num(row, "seq") : undefined;
    },
    lastSeqBefore: pages.lastSeqBefore,
    headSeq: pages.headSeq,

    // Two steps, each idempotent, in an order readers rely on:
    // 1. the message row and its bucket's directory entry (in parallel);
    // 2. both list heads (the recipient's with its last incoming seq) and the
    //    dedup record. A dedup hit implies the message row is stored, so the
    //    worker may skip a duplicate outright: the heads of the original are
    //    written in the same step, and a record is committed only once all of
    //    its writes are done, so a failed step is replayed (identical cells)
    //    before any later record of the partition, a retry among them, counts.
    // A failure anywhere rejects; the worker retries the whole append.
    async appendMessage(m) {
      const version = maxWins(m.seq);
      const bucket = bucketOf(m.seq);
      // Every step's statements are coalesced with those of the other messages the worker
      // writes in the same turn (session.write): a batch of messages costs a few requests.
      await Promise.all([
        session.write("appendMessage", CQL.insertMessage, [
          m.conversationId, bucket, m.seq, m.prevSeq, m.senderUserId,
          m.senderDeviceId, m.clientMsgId, m.text, m.sentAtMs, version,
        ]),
        registerBucket(m.conversationId, bucket, version),
      ]);
      const c = await conversationOf(m.conversationId);
      const head = [version, m.seq, m.sentAtMs, m.prevSeq, m.senderUserId, m.senderDeviceId, m.clientMsgId, m.text, m.sentAtMs];
      await Promise.all([
        ...(c
          ? [
              session.write("appendMessage", CQL.advanceHead, [...head, m.senderUserId, m.conversationId]),
              session.write("appendMessage", CQL.advanceHeadIncoming, [...head, m.seq, peerOf(c, m.senderUserId), m.conversationId]),
            ]
          : []),
        session.write("appendMessage", CQL.insertDedup, [m.conversationId, m.clientMsgId, m.seq, firstWins(m.seq)]),
      ]);
    },

    messagesAfter: pages.messagesAfter,
    messagesBefore: pages.messagesBefore,

    async advanceWatermarks(conversationId, userId, to) {
      const read = Math.max(0, to.readSeq ?? 0);
      const delivered = Math.max(0, to.deliveredSeq ?? 0, read);
      const c = await conversationOf(conversationId);
      const pair = (queries: [string, string], key: [string, string]) =>
        watermarkWrites("advanceWatermarks", delivered, read, queries, key);
      await Promise.all([
        pair([CQL.setDelivered, CQL.setRead], [conversationId, userId]),
        // The list entries carry copies, written by the same rule, so they
        // converge on the same max however these writes interleave.
        ...(c && isParticipant(c, userId)
          ? [
              pair([CQL.setOwnDelivered, CQL.setOwnRead], [userId, conversationId]),
              pair([CQL.setPeerDelivered, CQL.setPeerRead], [peerOf(c, userId), conversationId]),
            ]
          : []),
      ]);
      // Not read back (one request less per receipt): the registers may hold more.
      return { deliveredSeq: delivered, readSeq: read };
    },
    async getWatermarks(conversationId) {
      const rows = await session.rows("getWatermarks", CQL.getWatermarks, [conversationId]);
      return new Map<UserId, Watermarks>(
        rows.map((r) => [
          asUserId(str(r, "user_id")),
          { deliveredSeq: num(r, "delivered_seq"), readSeq: num(r, "read_seq") },
        ]),
      );
    },

    async advanceDeviceCursor(deviceId, conversationId, seq) {
      const value = Math.max(0, seq);
      await session.write("advanceDeviceCursor", CQL.advanceCursor, [maxWins(value), value, deviceId, conversationId]);
    },
    async getDeviceCursors(deviceId) {
      const rows = await session.allRows("getDeviceCursors", CQL.getCursors, [deviceId], CURSOR_PAGE);
      return new Map<ConversationId, Seq>(
        rows.map((r) => [asConversationId(str(r, "conversation_id")), num(r, "seq")]),
      );
    },

    listConversations: (userId) => listConversations(session, pages, userId, unreadCountCap),
    close: () => session.close(),
  };
}
