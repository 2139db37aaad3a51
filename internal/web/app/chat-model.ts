import type { Transport } from "@connectrpc/connect";
import {
  createChatClient,
  type ChatClient,
  type ChatEvent,
  type ClientStorage,
  type ConnectionFailure,
  type ConnectionState,
} from "../../client/index.ts";
import type { SignedInDevice } from "./device-session.ts";

/** What the banner shows about the connection. */
export interface ConnectionView {
  readonly state: ConnectionState;
  /** The browser's own idea (navigator.onLine); false means no network at all. */
  readonly browserOnline: boolean;
  readonly failure?: ConnectionFailure;
}

/**
 * The web app's state around one ChatClient: the run loop (restarted at
 * once when the browser regains the network, instead of waiting out the
 * backoff), which conversation is open, read markers, typing indicators
 * and presence watching. Components read it and re-render on `subscribe`.
 */
export interface ChatModel {
  readonly client: ChatClient;
  readonly device: SignedInDevice;
  connection(): ConnectionView;
  /** The open conversation (focused in the UI). */
  selected(): string | undefined;
  select(conversationId: string | undefined): void;
  /** The peer is typing in this conversation. */
  peerTyping(conversationId: string): boolean;
  /** The composer's text changed: sends typing start/stop, throttled. */
  composing(conversationId: string, text: string): void;
  send(conversationId: string, text: string): Promise<void>;
  /** Loads one page of older history; resolves whether more exists. */
  loadOlder(conversationId: string): Promise<boolean>;
  /** Opens (or finds) the conversation with a user; resolves its id. */
  startChat(username: string): Promise<string>;
  /** Calls `listener` (coalesced) after any change. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  stop(): Promise<void>;
}

/** Browser facilities the model uses, injected so the model stays testable. */
export interface ChatModelDeps {
  readonly transport: Transport;
  readonly storage: ClientStorage;
  readonly window: Window;
  /** The token was refused: the user has to log in again. */
  readonly onSignedOut: () => void;
}

const TYPING_IDLE_MS = 4_000;
const TYPING_RESEND_MS = 3_000;
const PEER_TYPING_TTL_MS = 8_000;
const HISTORY_PAGE = 40;

/** Loads the device's storage into a client and starts keeping it connected. */
export async function openChatModel(device: SignedInDevice, deps: ChatModelDeps): Promise<ChatModel> {
  const { window: win } = deps;
  const client = await createChatClient(
    // A browser tab comes back often (sleep, Wi-Fi changes): cap the backoff
    // lower than the SDK's default; regaining the network skips it entirely.
    { userId: device.userId, token: device.token, mode: "subscribe", clientInfo: "web/0.1", backoff: { baseMs: 250, maxMs: 10_000 } },
    { transport: deps.transport, storage: deps.storage },
  );
  const listeners = new Set<() => void>();
  const peerTyping = new Map<string, ReturnType<typeof setTimeout>>();
  let connection: ConnectionView = { state: client.connectionState(), browserOnline: win.navigator.onLine };
  let selected: string | undefined;
  let notifyQueued = false;
  let stopped = false;
  let ownTyping: { conversationId: string; sentAtMs: number; idle: ReturnType<typeof setTimeout> } | undefined;

  const notify = (): void => {
    if (notifyQueued) return;
    notifyQueued = true;
    // Coalesce bursts (a catch-up stores hundreds of messages) into one render.
    setTimeout(() => {
      notifyQueued = false;
      for (const listener of [...listeners]) listener();
    }, 0);
  };

  const markReadIfVisible = (): void => {
    if (!selected || win.document.visibilityState !== "visible") return;
    if ((client.conversation(selected)?.unreadCount ?? 0) > 0) client.markRead(selected);
  };
  // Every listed peer is watched (the list shows their dots); a catch-up
  // learns conversations one by one, so only a changed set is sent.
  let watched = "";
  const watchPeers = (): void => {
    const peers = [...new Set(client.conversations().map((c) => c.peerUserId))].filter((id) => id !== "").sort();
    if (peers.join(",") === watched) return;
    watched = peers.join(",");
    client.watchPresence(peers);
  };

  // The run loop: restartable, so regaining the network reconnects now.
  let run: { stop: AbortController; done: Promise<void> } | undefined;
  const start = (): void => {
    const stop = new AbortController();
    run = { stop, done: client.run(stop.signal).catch((err) => console.error("chat client stopped", err)) };
  };
  let restarting = false;
  const reconnectNow = async (): Promise<void> => {
    if (stopped || restarting || client.connectionState() === "live") return;
    restarting = true;
    try {
      run?.stop.abort();
      await run?.done;
      if (!stopped) start();
    } finally {
      restarting = false;
    }
  };

  const onEvent = (event: ChatEvent): void => {
    switch (event.type) {
      case "connection":
        connection = { state: event.state, browserOnline: win.navigator.onLine, ...(event.failure ? { failure: event.failure } : {}) };
        if (event.failure?.code === "unauthenticated") deps.onSignedOut();
        break;
      case "sync-complete":
        void client.refreshConversations().then(watchPeers, () => undefined);
        markReadIfVisible();
        break;
      case "conversation":
        watchPeers();
        break;
      case "messages":
        if (event.conversationId === selected) markReadIfVisible();
        for (const m of event.messages) if (m.senderUserId !== device.userId) clearPeerTyping(m.conversationId);
        break;
      case "typing":
        if (event.userId !== device.userId) setPeerTyping(event.conversationId, event.typing);
        break;
      default:
        break;
    }
    notify();
  };
  const setPeerTyping = (conversationId: string, typing: boolean): void => {
    clearTimeout(peerTyping.get(conversationId));
    peerTyping.delete(conversationId);
    // A lost "stopped typing" must not leave the indicator on forever.
    if (typing) peerTyping.set(conversationId, setTimeout(() => setPeerTyping(conversationId, false), PEER_TYPING_TTL_MS));
    notify();
  };
  const clearPeerTyping = (conversationId: string): void => {
    if (peerTyping.has(conversationId)) setPeerTyping(conversationId, false);
  };
  const stopTyping = (): void => {
    if (!ownTyping) return;
    clearTimeout(ownTyping.idle);
    client.setTyping(ownTyping.conversationId, false);
    ownTyping = undefined;
  };

  const networkChanged = (): void => {
    connection = { ...connection, browserOnline: win.navigator.onLine };
    notify();
    if (win.navigator.onLine) void reconnectNow();
  };
  const visibilityChanged = (): void => {
    markReadIfVisible();
    if (win.document.visibilityState === "visible") void reconnectNow();
  };
  const offEvents = client.on(onEvent);
  win.addEventListener("online", networkChanged);
  win.addEventListener("offline", networkChanged);
  win.document.addEventListener("visibilitychange", visibilityChanged);
  watchPeers();
  start();

  return {
    client,
    device,
    connection: () => connection,
    selected: () => selected,
    select(conversationId) {
      if (selected !== conversationId) stopTyping();
      selected = conversationId;
      markReadIfVisible();
      notify();
    },
    peerTyping: (conversationId) => peerTyping.has(conversationId),
    composing(conversationId, text) {
      if (text.trim() === "") return stopTyping();
      const now = Date.now();
      if (ownTyping?.conversationId !== conversationId) stopTyping();
      if (!ownTyping || now - ownTyping.sentAtMs > TYPING_RESEND_MS) {
        client.setTyping(conversationId, true);
        ownTyping = { conversationId, sentAtMs: now, idle: setTimeout(stopTyping, TYPING_IDLE_MS) };
        return;
      }
      clearTimeout(ownTyping.idle);
      ownTyping.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
    },
    async send(conversationId, text) {
      stopTyping();
      await client.send(conversationId, text);
      notify();
    },
    async loadOlder(conversationId) {
      const { hasOlder } = await client.loadOlder(conversationId, HISTORY_PAGE);
      notify();
      return hasOlder;
    },
    async startChat(username) {
      const view = await client.startConversation({ username });
      watchPeers();
      notify();
      return view.conversationId;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopped = true;
      stopTyping();
      offEvents();
      win.removeEventListener("online", networkChanged);
      win.removeEventListener("offline", networkChanged);
      win.document.removeEventListener("visibilitychange", visibilityChanged);
      for (const timer of peerTyping.values()) clearTimeout(timer);
      run?.stop.abort();
      await run?.done;
      await deps.storage.close();
    },
  };
}
