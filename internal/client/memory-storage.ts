import type {
  ChatMessage,
  ClientStorage,
  ConversationMeta,
  DeviceRecord,
  LocalSend,
  ReceiptRecord,
} from "./client-storage.ts";

/**
 * Client storage held in process memory: nothing survives the process. For
 * tests, the load generator, and browsers without persistence.
 */
export function createMemoryStorage(): ClientStorage {
  // Map iteration order is insertion order, which is the outbox FIFO order.
  const sends = new Map<string, LocalSend>();
  const messages = new Map<string, Map<number, ChatMessage>>();
  const cursors = new Map<string, number>();
  const receipts = new Map<string, Map<string, ReceiptRecord>>();
  const conversations = new Map<string, ConversationMeta>();
  let device: DeviceRecord | undefined;
  let closed = false;

  const open = (): void => {
    if (closed) throw new Error("client storage is closed");
  };
  const updateSend = (clientMsgId: string, update: (send: LocalSend) => LocalSend | undefined): void => {
    const send = sends.get(clientMsgId);
    const next = send && update(send);
    if (next) sends.set(clientMsgId, next);
  };

  return {
    async enqueueSend(send) {
      open();
      if (!sends.has(send.clientMsgId)) sends.set(send.clientMsgId, { ...send, state: "queued" });
    },
    async listOutbox() {
      open();
      return [...sends.values()].filter((s) => s.state === "queued").map((s) => ({ ...s }));
    },
    async markSendAccepted(clientMsgId, seq) {
      open();
      updateSend(clientMsgId, (s) =>
        s.state === "failed" ? undefined : { ...s, state: "accepted", ...(seq === undefined ? {} : { seq }) },
      );
    },
    async markSendFailed(clientMsgId, failure) {
      open();
      updateSend(clientMsgId, (s) => ({ ...s, state: "failed", failure }));
    },
    async listLocalSends(conversationId) {
      open();
      return [...sends.values()]
        .filter((s) => conversationId === undefined || s.conversationId === conversationId)
        .map((s) => ({ ...s }));
    },
    async removeLocalSend(clientMsgId) {
      open();
      sends.delete(clientMsgId);
    },

    async putMessages(batch) {
      open();
      for (const message of batch) {
        let held = messages.get(message.conversationId);
        if (!held) messages.set(message.conversationId, (held = new Map()));
        if (!held.has(message.seq)) held.set(message.seq, { ...message });
        if (sends.get(message.clientMsgId)?.conversationId === message.conversationId) {
          sends.delete(message.clientMsgId);
        }
      }
    },
    async listMessages(conversationId) {
      open();
      const held = [...(messages.get(conversationId)?.values() ?? [])];
      return held.sort((a, b) => a.seq - b.seq).map((m) => ({ ...m }));
    },

    async setCursor(conversationId, seq) {
      open();
      cursors.set(conversationId, seq);
    },
    async listCursors() {
      open();
      return new Map(cursors);
    },

    async putReceipt(receipt) {
      open();
      let held = receipts.get(receipt.conversationId);
      if (!held) receipts.set(receipt.conversationId, (held = new Map()));
      const old = held.get(receipt.userId);
      held.set(receipt.userId, {
        ...receipt,
        deliveredSeq: Math.max(receipt.deliveredSeq, old?.deliveredSeq ?? 0),
        readSeq: Math.max(receipt.readSeq, old?.readSeq ?? 0),
      });
    },
    async listReceipts(conversationId) {
      open();
      return [...(receipts.get(conversationId)?.values() ?? [])].map((r) => ({ ...r }));
    },

    async putConversation(meta) {
      open();
      conversations.set(meta.conversationId, { ...meta });
    },
    async listConversations() {
      open();
      return [...conversations.values()].map((c) => ({ ...c }));
    },

    async resetConversation(conversationId) {
      open();
      messages.delete(conversationId);
      cursors.delete(conversationId);
      receipts.delete(conversationId);
    },

    async putDevice(record) {
      open();
      device = { ...record };
    },
    async getDevice() {
      open();
      return device && { ...device };
    },

    async close() {
      closed = true;
    },
  };
}
