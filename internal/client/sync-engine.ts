import type { Client } from "@connectrpc/connect";
import type { ChatService, ServerEvent, StreamError, SyncConversation } from "../../gen/chat/v1/chat_service_pb.ts";
import type { Conversation } from "../../gen/chat/v1/types_pb.ts";
import type { ChatEmitter } from "./chat-events.ts";
import type { ChatMessage, LocalSend, ReceiptRecord } from "./client-storage.ts";
import { computeTick, type Tick } from "./conversation-state.ts";
import { isRefusalEvent, reasonName } from "./errors.ts";
import type { LocalReplica } from "./local-replica.ts";
import type { Outbox } from "./outbox.ts";
import type { ReceiptSender } from "./receipt-sender.ts";
import type { SendPump } from "./send-pump.ts";
import type { SerialExecutor } from "./serial-executor.ts";
import { fromWireInt, messageFromWire, metaFromWire, presenceFromWire, receiptFromWire, type PresenceView } from "./wire.ts";

/** Thrown by event handling to end the current stream and reconnect. */
export class RestartStreamError extends Error {
  override readonly name = "RestartStreamError";
}

/** Applies server events and fetched history to the device's state. */
export interface SyncEngine {
  /** Handles one stream event; runs inside the serial executor. May throw RestartStreamError. */
  handle(event: ServerEvent): Promise<void>;
  /** Stores messages from any source (stream, history); runs inside the serial executor. */
  store(messages: readonly ChatMessage[]): Promise<void>;
  /** Takes in a conversation as listed by the server; runs inside the serial executor. */
  learnConversation(conversation: Conversation): Promise<void>;
  /** The own message's tick (local send or sequenced copy). */
  tickOf(conversationId: string, clientMsgId: string): Tick | undefined;
  presence(userId: string): PresenceView | undefined;
}

/** Collaborators of the sync engine, shared with the chat client that owns them. */
export interface SyncEngineDeps {
  readonly userId: string;
  readonly api: Client<typeof ChatService>;
  readonly replica: LocalReplica;
  readonly outbox: Outbox;
  readonly pump: SendPump;
  readonly receipts: ReceiptSender;
  readonly serial: SerialExecutor;
  readonly emitter: ChatEmitter;
  /** Called when a stored message names a conversation whose metadata is unknown. */
  readonly discovered: () => void;
}

/**
 * Creates the engine. `historyPageSize` bounds each GetHistory page used to
 * fill gaps.
 */
export function createSyncEngine(cfg: { readonly historyPageSize: number }, deps: SyncEngineDeps): SyncEngine {
  const { replica, outbox, emitter, userId } = deps;
  const presences = new Map<string, PresenceView>();
  const filling = new Set<string>();

  const peerWatermarks = (conversationId: string) => {
    const peer = replica.meta(conversationId)?.peerUserId;
    return peer ? replica.conversation(conversationId)?.receipt(peer) : undefined;
  };
  const tickOf = (conversationId: string, clientMsgId: string): Tick | undefined => {
    const local = outbox.get(clientMsgId);
    if (local?.conversationId === conversationId) return computeTick(local, peerWatermarks(conversationId));
    const held = replica.conversation(conversationId)?.byClientMsgId(clientMsgId);
    if (!held || held.senderUserId !== userId) return undefined;
    return computeTick({ state: "accepted", seq: held.seq }, peerWatermarks(conversationId));
  };
  const emitTick = (send: Pick<LocalSend, "conversationId" | "clientMsgId">): void => {
    const tick = tickOf(send.conversationId, send.clientMsgId);
    if (tick) emitter.emit({ type: "send", conversationId: send.conversationId, clientMsgId: send.clientMsgId, tick });
  };
  const setPresence = (presence: PresenceView): void => {
    presences.set(presence.userId, presence);
    emitter.emit({ type: "presence", presence });
  };

  /**
   * Fetches the messages of a gap page by page (GetHistory after_seq), in the
   * background so the stream keeps flowing. Stops when the gap closes, when
   * the server has nothing more for it, or on error: the cursor sent on the
   * next connect still points below the gap, so the catch-up retries it.
   */
  const fillGap = async (conversationId: string): Promise<void> => {
    for (let page = 0; page < 10_000; page++) {
      const gap = replica.conversation(conversationId)?.gap();
      if (!gap) return;
      const response = await deps.api.getHistory({
        conversationId,
        afterSeq: BigInt(gap.afterSeq),
        forward: true,
        limit: cfg.historyPageSize,
      });
      await deps.serial.run(() => store(response.messages.map(messageFromWire)));
      const after = replica.conversation(conversationId)?.gap();
      if (after && after.afterSeq === gap.afterSeq && (!response.hasMore || response.messages.length === 0)) {
        emitter.emit({ type: "gap-unfilled", conversationId, gap: after });
        return;
      }
    }
  };
  const scheduleGapFill = (conversationId: string): void => {
    if (filling.has(conversationId) || !replica.conversation(conversationId)?.gap()) return;
    filling.add(conversationId);
    fillGap(conversationId)
      .catch(() => undefined) // retried on the next message of the conversation or the next catch-up
      .finally(() => filling.delete(conversationId));
  };

  async function store(messages: readonly ChatMessage[]): Promise<void> {
    const outcome = await replica.storeMessages(messages);
    for (const send of outbox.settled(outcome.stored)) emitTick(send);
    if (outcome.stored.length > 0) deps.pump.kick();
    for (const conversationId of outcome.cursors.keys()) deps.receipts.delivered(conversationId);
    const byConversation = new Map<string, ChatMessage[]>();
    for (const m of outcome.stored) byConversation.set(m.conversationId, [...(byConversation.get(m.conversationId) ?? []), m]);
    for (const [conversationId, batch] of byConversation) {
      emitter.emit({ type: "messages", conversationId, messages: batch.sort((a, b) => a.seq - b.seq) });
      scheduleGapFill(conversationId);
    }
    if (outcome.discovered.length > 0) deps.discovered();
  }

  const applyReceipt = async (receipt: ReceiptRecord): Promise<void> => {
    if (!(await replica.applyReceipt(receipt))) return;
    emitter.emit({ type: "receipt", receipt });
    if (receipt.userId === userId) return;
    // Ticks of own messages at or below the new watermarks changed; pending
    // local sends with a known seq are the only ones not derived on demand.
    for (const send of outbox.forConversation(receipt.conversationId)) if (send.seq !== undefined) emitTick(send);
  };

  const learnConversation = async (conversation: Conversation): Promise<void> => {
    const meta = metaFromWire(conversation);
    if (await replica.putMeta(meta)) emitter.emit({ type: "conversation", conversation: meta });
    if (conversation.ownReceipt) await applyReceipt(receiptFromWire(conversation.ownReceipt));
    if (conversation.peerReceipt) await applyReceipt(receiptFromWire(conversation.peerReceipt));
    if (conversation.peerPresence) setPresence(presenceFromWire(conversation.peerPresence));
  };

  const syncConversation = async (sync: SyncConversation): Promise<void> => {
    const conversation = sync.conversation;
    if (!conversation) return;
    const id = conversation.conversationId;
    if (sync.reset) {
      await replica.reset(id);
      emitter.emit({ type: "reset", conversationId: id });
    }
    await learnConversation(conversation);
    await replica.startAt(id, fromWireInt(sync.fromSeq));
  };

  const accepted = async (clientMsgId: string, seq?: number): Promise<void> => {
    const changed = await outbox.accept(clientMsgId, seq);
    if (!changed) return;
    deps.pump.kick();
    emitTick(changed);
  };

  const streamError = async (error: StreamError): Promise<void> => {
    const reason = reasonName(error.reason);
    emitter.emit({
      type: "server-error",
      reason,
      code: error.code,
      message: error.message,
      ...(error.clientMsgId ? { clientMsgId: error.clientMsgId } : {}),
    });
    if (isRefusalEvent(error)) {
      if (!error.clientMsgId) return;
      const failed = await outbox.fail(error.clientMsgId, reason);
      if (failed) {
        deps.pump.kick();
        emitTick(failed);
      }
      return;
    }
    if (error.clientMsgId) {
      // Sends after this one may already be on the wire: only a new stream,
      // which resends the outbox from its head, keeps them in order.
      throw new RestartStreamError(`send ${error.clientMsgId} deferred by the server (${reason})`);
    }
    deps.receipts.resyncLater(() => replica.conversationIds());
  };

  return {
    async handle(event) {
      const e = event.event;
      switch (e.case) {
        case "syncConversation":
          return syncConversation(e.value);
        case "message":
          return store([messageFromWire(e.value)]);
        case "sendAccepted":
          return accepted(e.value.clientMsgId);
        case "sendResult":
          return accepted(e.value.clientMsgId, fromWireInt(e.value.seq));
        case "receipt":
          return applyReceipt(receiptFromWire(e.value));
        case "presence":
          for (const p of e.value.presences) setPresence(presenceFromWire(p));
          return;
        case "typing":
          emitter.emit({ type: "typing", conversationId: e.value.conversationId, userId: e.value.userId, typing: e.value.typing });
          return;
        case "syncComplete": {
          const ids = replica.conversationIds();
          deps.receipts.resync(ids);
          for (const id of ids) scheduleGapFill(id);
          emitter.emit({ type: "sync-complete", conversations: e.value.conversationCount, messages: e.value.messageCount });
          return;
        }
        case "error":
          return streamError(e.value);
        default:
          // welcome, reconnect, pong: connection-level, handled by the connection loop.
          return;
      }
    },
    store,
    learnConversation,
    tickOf,
    presence: (id) => presences.get(id),
  };
}
