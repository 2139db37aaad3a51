import { createClient, type Transport } from "@connectrpc/connect";
import { ChatService } from "../../gen/chat/v1/chat_service_pb.ts";
import { withBearerToken, type TokenSource } from "./auth.ts";
import { defaultBackoff, type BackoffConfig } from "./backoff.ts";
import { openBidiLink } from "./bidi-link.ts";
import { createChatEmitter, type ChatEvent, type ConnectionFailure, type ConnectionState } from "./chat-events.ts";
import type { ClientStorage } from "./client-storage.ts";
import { createConnectionLoop } from "./connection-loop.ts";
import type { Tick, Watermarks } from "./conversation-state.ts";
import { openLocalReplica } from "./local-replica.ts";
import { openOutbox } from "./outbox.ts";
import { createReceiptSender } from "./receipt-sender.ts";
import { systemRuntime, type ClientRuntime } from "./runtime.ts";
import { createSendPump } from "./send-pump.ts";
import { createSerialExecutor } from "./serial-executor.ts";
import type { ReceiveMode, StreamLink } from "./stream-link.ts";
import { openSubscribeLink } from "./subscribe-link.ts";
import { createSyncEngine } from "./sync-engine.ts";
import { conversationView, messageViews, type ConversationView, type MessageView } from "./views.ts";
import { messageFromWire, type PresenceView } from "./wire.ts";

/** Settings of a chat client. */
export interface ChatClientConfig {
  /** The logged-in user (from login); decides which messages are own. */
  readonly userId: string;
  /** Bearer token, or a function asked before every call. */
  readonly token: TokenSource;
  /** `bidi` for native clients, `subscribe` for browsers (server stream + unary calls). */
  readonly mode: ReceiveMode;
  /** Free text for server logs ("cli/0.1"). */
  readonly clientInfo?: string;
  readonly backoff?: BackoffConfig;
  /** Batching window of acks (default 20 ms). */
  readonly ackDelayMs?: number;
  /** A stream that has not said Welcome within this is abandoned and retried (default 10 s). */
  readonly openTimeoutMs?: number;
  /** Messages per GetHistory page (default 100). */
  readonly historyPageSize?: number;
  /** Sends on the wire without SendAccepted yet (default 256). */
  readonly maxInFlightSends?: number;
}

/** What a chat client is built from. */
export interface ChatClientDeps {
  /**
   * gRPC for bidi, Connect or gRPC-Web for subscribe; the SDK adds the bearer token.
   * Native clients: use `createNativeTransport` (internal/client/node), which
   * pings its connection so a silently dead one is replaced; browsers:
   * connect-web's `createConnectTransport`.
   */
  readonly transport: Transport;
  readonly storage: ClientStorage;
  readonly runtime?: ClientRuntime;
  /** client_msg_id generator (default crypto.randomUUID). */
  readonly newId?: () => string;
}

/** The SDK's client of one device. Queries are synchronous reads of local state. */
export interface ChatClient {
  readonly userId: string;
  /** Keeps the device connected until `signal` aborts. One run at a time. */
  run(signal: AbortSignal): Promise<void>;
  connectionState(): ConnectionState;
  /** Queues a message durably (delivered in order, exactly once, whenever online). */
  send(conversationId: string, text: string): Promise<{ clientMsgId: string }>;
  /** Marks messages up to seq (default: the cursor) as read. */
  markRead(conversationId: string, seq?: number): void;
  /** Ephemeral; dropped while disconnected. */
  setTyping(conversationId: string, typing: boolean): void;
  /** Replaces the watched users; kept across reconnects. */
  watchPresence(userIds: readonly string[]): void;
  presence(userId: string): PresenceView | undefined;
  startConversation(peer: { readonly userId: string } | { readonly username: string }): Promise<ConversationView>;
  /** Fetches the conversation list from the server and merges it. */
  refreshConversations(): Promise<ConversationView[]>;
  /** Known conversations, newest activity first. */
  conversations(): ConversationView[];
  conversation(conversationId: string): ConversationView | undefined;
  /** Fetches one page of history older than the oldest held message. */
  loadOlder(conversationId: string, limit?: number): Promise<{ loaded: number; hasOlder: boolean }>;
  messages(conversationId: string): MessageView[];
  /** Tick of an own message; undefined for unknown ids and others' messages. */
  messageState(conversationId: string, clientMsgId: string): Tick | undefined;
  receipts(conversationId: string): { own?: Watermarks; peer?: Watermarks };
  /** Forgets a failed message. */
  dismiss(clientMsgId: string): Promise<void>;
  on(listener: (event: ChatEvent) => void): () => void;
  waitFor(predicate: () => boolean, timeoutMs: number, what?: string): Promise<void>;
}

/** Loads the device's state from storage and returns its client (not yet connected). */
export async function createChatClient(cfg: ChatClientConfig, deps: ChatClientDeps): Promise<ChatClient> {
  const runtime = deps.runtime ?? systemRuntime;
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const { userId } = cfg;
  const device = await deps.storage.getDevice();
  if (device && device.userId !== userId) {
    throw new Error(`storage belongs to user ${device.userId}, not ${userId}`);
  }
  const api = createClient(ChatService, withBearerToken(deps.transport, cfg.token));
  const replica = await openLocalReplica(deps.storage);
  const outbox = await openOutbox(deps.storage);
  const serial = createSerialExecutor();
  const emitter = createChatEmitter(runtime);
  const pump = createSendPump({ maxInFlight: cfg.maxInFlightSends ?? 256 }, { outbox });
  let link: StreamLink | undefined;
  let state: ConnectionState = "offline";
  let watched: readonly string[] = [];
  let running = false;
  let refreshing: Promise<ConversationView[]> | undefined;

  const receipts = createReceiptSender(
    { ackDelayMs: cfg.ackDelayMs ?? 20, retryDelayMs: 1_000 },
    {
      timers: runtime.timers,
      link: () => link,
      cursor: (id) => replica.conversation(id)?.cursor ?? 0,
      own: (id) => replica.conversation(id)?.receipt(userId),
    },
  );
  const engine = createSyncEngine(
    { historyPageSize: cfg.historyPageSize ?? 100 },
    {
      userId,
      api,
      replica,
      outbox,
      pump,
      receipts,
      serial,
      emitter,
      // A peer opened a conversation while we were live: learn who it is.
      discovered: () => void refreshConversations().catch(() => undefined),
    },
  );

  const view = (id: string): ConversationView | undefined => {
    const meta = replica.meta(id);
    return meta && conversationView(userId, meta, replica.conversation(id));
  };
  const conversations = (): ConversationView[] => {
    const activity = (v: ConversationView): number => v.lastMessage?.sentAtMs ?? 0;
    return replica
      .conversationIds()
      .map((id) => view(id))
      .filter((v): v is ConversationView => v !== undefined)
      .sort((a, b) => activity(b) - activity(a));
  };
  function refreshConversations(): Promise<ConversationView[]> {
    // Coalesce: concurrent callers share one ListConversations call.
    refreshing ??= (async () => {
      try {
        const response = await api.listConversations({});
        await serial.run(async () => {
          for (const c of response.conversations) await engine.learnConversation(c);
        });
        return conversations();
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  }
  const setState = (next: ConnectionState, detail: { failure?: ConnectionFailure; retryInMs?: number } = {}): void => {
    state = next;
    emitter.emit({ type: "connection", state: next, ...detail });
  };

  const loop = createConnectionLoop(
    { backoff: cfg.backoff ?? defaultBackoff, openTimeoutMs: cfg.openTimeoutMs ?? 10_000 },
    {
      runtime,
      open(signal) {
        const opening = { cursors: replica.cursors(), clientInfo: cfg.clientInfo ?? "", signal };
        if (cfg.mode === "bidi") return openBidiLink(api, opening);
        return openSubscribeLink(api, opening, {
          runtime,
          backoff: cfg.backoff ?? defaultBackoff,
          // Outcomes of unary calls; refusals only, so nothing here restarts the stream.
          inject: (event) => void serial.run(() => engine.handle(event)).catch(() => undefined),
        });
      },
      handle: (event, current) =>
        serial.run(async () => {
          if (event.event.case === "welcome") {
            // The stream is authenticated and registered: it may carry actions now.
            link = current;
            receipts.linkChanged();
            pump.attach(current);
            if (watched.length > 0) current.watchPresence(watched);
          }
          await engine.handle(event);
        }),
      onState: setState,
      onClosed(closed) {
        if (link !== closed) return;
        link = undefined;
        pump.detach();
      },
    },
  );

  return {
    userId,
    async run(signal) {
      if (running) throw new Error("chat client is already running");
      running = true;
      try {
        await loop.run(signal);
      } finally {
        receipts.stop();
        running = false;
      }
    },
    connectionState: () => state,
    async send(conversationId, text) {
      const clientMsgId = newId();
      await serial.run(async () => {
        await outbox.enqueue({ clientMsgId, conversationId, text, createdAtMs: runtime.clock.nowMs() });
        pump.kick();
      });
      emitter.emit({ type: "send", conversationId, clientMsgId, tick: engine.tickOf(conversationId, clientMsgId) ?? "pending" });
      return { clientMsgId };
    },
    markRead(conversationId, seq) {
      const upTo = seq ?? replica.conversation(conversationId)?.cursor ?? 0;
      if (upTo > 0) receipts.read(conversationId, upTo);
    },
    setTyping(conversationId, typing) {
      link?.setTyping(conversationId, typing);
    },
    watchPresence(userIds) {
      watched = [...new Set(userIds)];
      link?.watchPresence(watched);
    },
    presence: (id) => engine.presence(id),
    async startConversation(peer) {
      const response = await api.startConversation({
        peer: "userId" in peer ? { case: "peerUserId", value: peer.userId } : { case: "peerUsername", value: peer.username },
      });
      const conversation = response.conversation;
      if (!conversation) throw new Error("StartConversation returned no conversation");
      await serial.run(() => engine.learnConversation(conversation));
      return view(conversation.conversationId) as ConversationView;
    },
    refreshConversations,
    conversations,
    conversation: view,
    async loadOlder(conversationId, limit = 50) {
      const beforeSeq = replica.conversation(conversationId)?.olderThanSeq() ?? 0;
      if (beforeSeq === 0) return { loaded: 0, hasOlder: false };
      const response = await api.getHistory({ conversationId, beforeSeq: BigInt(beforeSeq), limit });
      const before = replica.conversation(conversationId)?.messages().length ?? 0;
      await serial.run(() => engine.store(response.messages.map(messageFromWire)));
      const current = replica.conversation(conversationId);
      return { loaded: (current?.messages().length ?? 0) - before, hasOlder: current?.hasOlder() ?? false };
    },
    messages(conversationId) {
      const meta = replica.meta(conversationId);
      const current = replica.conversation(conversationId);
      const peer = meta?.peerUserId ? current?.receipt(meta.peerUserId) : undefined;
      return messageViews(userId, current, outbox.forConversation(conversationId), peer);
    },
    messageState: (conversationId, clientMsgId) => engine.tickOf(conversationId, clientMsgId),
    receipts(conversationId) {
      const current = replica.conversation(conversationId);
      const peerId = replica.meta(conversationId)?.peerUserId;
      const own = current?.receipt(userId);
      const peer = peerId ? current?.receipt(peerId) : undefined;
      return { ...(own ? { own } : {}), ...(peer ? { peer } : {}) };
    },
    async dismiss(clientMsgId) {
      await serial.run(async () => {
        if (outbox.get(clientMsgId)?.state === "failed") await outbox.remove(clientMsgId);
      });
    },
    on: (listener) => emitter.on(listener),
    waitFor: (predicate, timeoutMs, what) => emitter.waitFor(predicate, timeoutMs, what),
  };
}
