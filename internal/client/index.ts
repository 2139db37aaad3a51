/**
 * The chat client SDK: one TypeScript client for the CLI, the web client,
 * the load generator and the tests. Depends only on gen/ and Connect; the
 * application passes the transport (connect-node gRPC for the bidi mode,
 * connect-web for browsers in the subscribe mode) and the storage. The SQLite
 * storage has its own entry point (`./sqlite/index.ts`) so browser bundles
 * never import bun:sqlite.
 */
export { createChatClient } from "./chat-client.ts";
export type { ChatClient, ChatClientConfig, ChatClientDeps } from "./chat-client.ts";
export type { ChatEvent, ConnectionFailure, ConnectionState } from "./chat-events.ts";
export type { ConversationView, MessageView } from "./views.ts";
export type { PresenceView } from "./wire.ts";
export type { ReceiveMode } from "./stream-link.ts";
export { login, register, withBearerToken } from "./auth.ts";
export type { DeviceSession, LoginInput, TokenSource } from "./auth.ts";
export type {
  ChatMessage,
  ClientStorage,
  ConversationMeta,
  DeviceRecord,
  LocalSend,
  LocalSendState,
  ReceiptRecord,
} from "./client-storage.ts";
export { createMemoryStorage } from "./memory-storage.ts";
export { createIndexedDbStorage } from "./indexeddb-storage.ts";
export type { IndexedDbStorageConfig, IndexedDbStorageDeps } from "./indexeddb-storage.ts";
export { computeTick, createConversationState } from "./conversation-state.ts";
export type { ConversationState, Gap, Tick, Watermarks } from "./conversation-state.ts";
export { createBackoff, defaultBackoff } from "./backoff.ts";
export type { Backoff, BackoffConfig } from "./backoff.ts";
export { systemRuntime } from "./runtime.ts";
export type { ClientRuntime, Clock, Timers } from "./runtime.ts";
