import {
  asDeviceId,
  asUserId,
  conversationIdFor,
  type Conversation,
  type DeviceId,
  type Seq,
  type StoredMessage,
  type UserId,
} from "../domain/index.ts";

/**
 * What a store conformance suite gets from an adapter's test file for each
 * case. `reopen`, when given, closes the current store and opens the same
 * data again (a persistent backend); `cleanup` closes whichever store is
 * current and removes its data.
 */
export interface StoreFixture<S> {
  readonly store: S;
  readonly reopen?: () => Promise<S>;
  readonly cleanup: () => Promise<void>;
}

/**
 * Ids are unique per call, so the suites also run against a backend shared
 * between cases (one Cassandra keyspace) without cases seeing each other.
 */
export function uniqueUser(label: string): UserId {
  return asUserId(`${label}_${crypto.randomUUID()}`);
}

export function uniqueDevice(label: string): DeviceId {
  return asDeviceId(`${label}_${crypto.randomUUID()}`);
}

/** The conversation of two users, with userA the lower id as the model requires. */
export function conversationBetween(x: UserId, y: UserId, createdAtMs = 1_000): Conversation {
  const [userA, userB] = x < y ? [x, y] : [y, x];
  return { id: conversationIdFor(userA, userB), userA, userB, createdAtMs };
}

/** Two fresh users (`a` < `b`) and their conversation. */
export function newConversation(createdAtMs = 1_000): { conversation: Conversation; a: UserId; b: UserId } {
  const conversation = conversationBetween(uniqueUser("u"), uniqueUser("u"), createdAtMs);
  return { conversation, a: conversation.userA, b: conversation.userB };
}

/** A message of `c` at `seq` from `from`, with a client id and body derived from the seq. */
export function messageAt(
  c: Conversation,
  seq: Seq,
  prevSeq: Seq,
  from: UserId,
  sentAtMs = 10_000 + seq,
): StoredMessage {
  return {
    conversationId: c.id,
    seq,
    prevSeq,
    senderUserId: from,
    senderDeviceId: asDeviceId(`${from}/d1`),
    clientMsgId: `${c.id}-${seq}`,
    text: `message ${seq} \u{1F600} ü`,
    sentAtMs,
  };
}

/**
 * The messages of a conversation at the given ascending seqs, each linked to
 * its predecessor by prevSeq, alternating senders.
 */
export function thread(c: Conversation, seqs: readonly Seq[]): StoredMessage[] {
  return seqs.map((seq, i) => messageAt(c, seq, i === 0 ? 0 : (seqs[i - 1] ?? 0), i % 2 === 0 ? c.userA : c.userB));
}

/** Seqs of messages, for compact assertions. */
export const seqsOf = (messages: readonly StoredMessage[]): Seq[] => messages.map((m) => m.seq);
