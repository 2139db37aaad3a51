import type { ChatMessage, ClientStorage, ConversationMeta, ReceiptRecord } from "./client-storage.ts";
import { createConversationState, type ConversationState } from "./conversation-state.ts";

/** What storing a batch of messages changed. */
export interface StoreOutcome {
  /** Messages that were not held before, in the order given. */
  readonly stored: ChatMessage[];
  /** New cursor of every conversation whose cursor moved. */
  readonly cursors: Map<string, number>;
  /** Conversations this device had not heard of (metadata still unknown). */
  readonly discovered: string[];
}

/**
 * The device's copy of its conversations: one ConversationState per
 * conversation plus metadata, written through to storage. Storage is written
 * before memory changes, so whatever the process has acknowledged to the
 * server is on disk. Callers serialize calls.
 */
export interface LocalReplica {
  conversation(conversationId: string): ConversationState | undefined;
  conversationIds(): string[];
  meta(conversationId: string): ConversationMeta | undefined;
  /** Creates or updates metadata; `true` if it changed. */
  putMeta(meta: ConversationMeta): Promise<boolean>;
  /** Cursors to resume from (conversations with a position only). */
  cursors(): { conversationId: string; seq: number }[];
  /** Stores messages not yet held, advancing cursors. */
  storeMessages(messages: readonly ChatMessage[]): Promise<StoreOutcome>;
  /** Sets where a conversation the device holds nothing of starts (see ConversationState.startAt). */
  startAt(conversationId: string, fromSeq: number): Promise<void>;
  /** Drops what the device holds of the conversation (server-ordered reset). */
  reset(conversationId: string): Promise<void>;
  /** Raises a participant's watermarks; `true` if they rose. */
  applyReceipt(receipt: ReceiptRecord): Promise<boolean>;
}

/** Loads the replica from storage. */
export async function openLocalReplica(storage: ClientStorage): Promise<LocalReplica> {
  const metas = new Map<string, ConversationMeta>();
  const states = new Map<string, ConversationState>();
  const savedCursors = await storage.listCursors();
  for (const meta of await storage.listConversations()) metas.set(meta.conversationId, meta);
  for (const id of new Set([...metas.keys(), ...savedCursors.keys()])) {
    const state = createConversationState(id, savedCursors.get(id) ?? 0);
    for (const message of await storage.listMessages(id)) state.insert(message);
    for (const receipt of await storage.listReceipts(id)) state.applyReceipt(receipt);
    states.set(id, state);
  }

  /** The conversation's state, creating a placeholder for one never heard of. */
  const ensure = async (conversationId: string): Promise<{ state: ConversationState; isNew: boolean }> => {
    const held = states.get(conversationId);
    if (held) return { state: held, isNew: false };
    const meta: ConversationMeta = { conversationId, peerUserId: "", peerUsername: "" };
    await storage.putConversation(meta);
    metas.set(conversationId, meta);
    const state = createConversationState(conversationId);
    states.set(conversationId, state);
    return { state, isNew: true };
  };

  return {
    conversation: (id) => states.get(id),
    conversationIds: () => [...states.keys()],
    meta: (id) => metas.get(id),
    async putMeta(meta) {
      const old = metas.get(meta.conversationId);
      if (old && old.peerUserId === meta.peerUserId && old.peerUsername === meta.peerUsername) return false;
      await storage.putConversation(meta);
      metas.set(meta.conversationId, meta);
      if (!states.has(meta.conversationId)) states.set(meta.conversationId, createConversationState(meta.conversationId));
      return true;
    },
    cursors() {
      return [...states.values()]
        .filter((s) => s.cursor > 0)
        .map((s) => ({ conversationId: s.conversationId, seq: s.cursor }));
    },
    async storeMessages(messages) {
      const discovered: string[] = [];
      const fresh: ChatMessage[] = [];
      const seen = new Set<string>();
      for (const message of messages) {
        const { state, isNew } = await ensure(message.conversationId);
        if (isNew) discovered.push(message.conversationId);
        const key = `${message.conversationId}\u0000${message.seq}`;
        if (state.bySeq(message.seq) || seen.has(key)) continue;
        seen.add(key);
        fresh.push(message);
      }
      const cursors = new Map<string, number>();
      if (fresh.length === 0) return { stored: fresh, cursors, discovered };
      // Durable before visible: an ack may follow as soon as this returns.
      await storage.putMessages(fresh);
      const before = new Map<string, number>();
      for (const message of fresh) {
        const state = states.get(message.conversationId) as ConversationState;
        if (!before.has(state.conversationId)) before.set(state.conversationId, state.cursor);
        state.insert(message);
      }
      for (const [id, old] of before) {
        const cursor = (states.get(id) as ConversationState).cursor;
        if (cursor === old) continue;
        await storage.setCursor(id, cursor);
        cursors.set(id, cursor);
      }
      return { stored: fresh, cursors, discovered };
    },
    async startAt(conversationId, fromSeq) {
      const { state } = await ensure(conversationId);
      const old = state.cursor;
      state.startAt(fromSeq);
      if (state.cursor !== old) await storage.setCursor(conversationId, state.cursor);
    },
    async reset(conversationId) {
      await storage.resetConversation(conversationId);
      states.get(conversationId)?.reset();
    },
    async applyReceipt(receipt) {
      const { state } = await ensure(receipt.conversationId);
      const old = state.receipt(receipt.userId);
      // Read implies delivered, whatever order the events came in.
      const readSeq = Math.max(old?.readSeq ?? 0, receipt.readSeq);
      const deliveredSeq = Math.max(old?.deliveredSeq ?? 0, receipt.deliveredSeq, readSeq);
      if (old && old.readSeq === readSeq && old.deliveredSeq === deliveredSeq) return false;
      const merged = { conversationId: receipt.conversationId, userId: receipt.userId, deliveredSeq, readSeq };
      await storage.putReceipt(merged);
      return state.applyReceipt(merged);
    },
  };
}
