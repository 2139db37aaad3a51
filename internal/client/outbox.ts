import type { ChatMessage, ClientStorage, LocalSend } from "./client-storage.ts";

/**
 * The device's own messages that have no sequenced copy yet, mirrored in
 * memory over the storage (which is written first, so a restarted process
 * resumes exactly where this one stood). Queued entries leave for the server
 * in enqueue order; the server keeps that order because it processes one
 * stream's frames in order and ends the stream on any failure to append.
 *
 * Callers serialize mutations (the chat client runs them one at a time).
 */
export interface Outbox {
  /** Persists a new queued message. */
  enqueue(send: Omit<LocalSend, "state" | "seq" | "failure">): Promise<LocalSend>;
  /** Queued entries, oldest first: what the next stream must (re)send. */
  queued(): LocalSend[];
  /** Every entry of the conversation, oldest first. */
  forConversation(conversationId: string): LocalSend[];
  get(clientMsgId: string): LocalSend | undefined;
  /** The log holds it ("sent"); records the seq when known. Returns the entry if it changed. */
  accept(clientMsgId: string, seq?: number): Promise<LocalSend | undefined>;
  /** Refused for good: out of the outbox, kept visible. Returns the entry if it changed. */
  fail(clientMsgId: string, failure: string): Promise<LocalSend | undefined>;
  /** Forgets entries whose sequenced copy the storage now holds (storing it settled them there). */
  settled(messages: Iterable<Pick<ChatMessage, "conversationId" | "clientMsgId">>): LocalSend[];
  /** Drops an entry for good (e.g. a dismissed failure). */
  remove(clientMsgId: string): Promise<void>;
}

/** Loads the outbox mirror from storage. */
export async function openOutbox(storage: ClientStorage): Promise<Outbox> {
  // Insertion order of the Map is enqueue order (storage lists in that order).
  const entries = new Map<string, LocalSend>();
  for (const send of await storage.listLocalSends()) entries.set(send.clientMsgId, send);

  const replace = (next: LocalSend): LocalSend => {
    entries.set(next.clientMsgId, next);
    return next;
  };

  return {
    async enqueue(send) {
      await storage.enqueueSend(send);
      return entries.get(send.clientMsgId) ?? replace({ ...send, state: "queued" });
    },
    queued() {
      const out: LocalSend[] = [];
      for (const entry of entries.values()) if (entry.state === "queued") out.push(entry);
      return out;
    },
    forConversation(conversationId) {
      return [...entries.values()].filter((e) => e.conversationId === conversationId);
    },
    get(clientMsgId) {
      return entries.get(clientMsgId);
    },
    async accept(clientMsgId, seq) {
      const entry = entries.get(clientMsgId);
      if (!entry || entry.state === "failed") return undefined;
      if (entry.state === "accepted" && (seq === undefined || entry.seq === seq)) return undefined;
      await storage.markSendAccepted(clientMsgId, seq);
      return replace({ ...entry, state: "accepted", ...(seq === undefined ? {} : { seq }) });
    },
    async fail(clientMsgId, failure) {
      const entry = entries.get(clientMsgId);
      if (!entry || entry.state === "failed") return undefined;
      await storage.markSendFailed(clientMsgId, failure);
      return replace({ ...entry, state: "failed", failure });
    },
    settled(messages) {
      const gone: LocalSend[] = [];
      for (const { conversationId, clientMsgId } of messages) {
        const entry = entries.get(clientMsgId);
        if (entry?.conversationId !== conversationId) continue;
        entries.delete(clientMsgId);
        gone.push(entry);
      }
      return gone;
    },
    async remove(clientMsgId) {
      await storage.removeLocalSend(clientMsgId);
      entries.delete(clientMsgId);
    },
  };
}
