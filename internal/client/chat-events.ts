import type { ChatMessage, ConversationMeta, ReceiptRecord } from "./client-storage.ts";
import type { Gap, Tick } from "./conversation-state.ts";
import type { Timers } from "./runtime.ts";
import type { PresenceView } from "./wire.ts";

/**
 * Connection lifecycle: `connecting` (stream opening), `syncing` (Welcome
 * received, catch-up running), `live` (SyncComplete received), `waiting`
 * (backing off before the next attempt), `offline` (not running).
 */
export type ConnectionState = "offline" | "connecting" | "syncing" | "live" | "waiting";

/** Why the last stream ended, when it failed. */
export interface ConnectionFailure {
  /** Connect code name ("unavailable", "unauthenticated", ...). */
  readonly code: string;
  /** ErrorReason name when the server gave one ("SLOW_CONSUMER"). */
  readonly reason: string;
  readonly message: string;
}

/** Everything a ChatClient reports to `on` listeners. */
export type ChatEvent =
  | { readonly type: "connection"; readonly state: ConnectionState; readonly failure?: ConnectionFailure; readonly retryInMs?: number }
  /** Messages newly stored (live, catch-up, gap fill or older history), ascending. */
  | { readonly type: "messages"; readonly conversationId: string; readonly messages: readonly ChatMessage[] }
  /** An own message changed tick (or got its sequenced copy). */
  | { readonly type: "send"; readonly conversationId: string; readonly clientMsgId: string; readonly tick: Tick }
  | { readonly type: "receipt"; readonly receipt: ReceiptRecord }
  | { readonly type: "presence"; readonly presence: PresenceView }
  | { readonly type: "typing"; readonly conversationId: string; readonly userId: string; readonly typing: boolean }
  | { readonly type: "conversation"; readonly conversation: ConversationMeta }
  /** The server could not continue from the held cursor: the conversation was dropped and refilled. */
  | { readonly type: "reset"; readonly conversationId: string }
  | { readonly type: "sync-complete"; readonly conversations: number; readonly messages: number }
  /** A refused action (StreamError, or a refused unary call in subscribe mode). */
  | { readonly type: "server-error"; readonly reason: string; readonly code: string; readonly message: string; readonly clientMsgId?: string }
  /** The server returned no messages for a known gap; retried on the next catch-up. */
  | { readonly type: "gap-unfilled"; readonly conversationId: string; readonly gap: Gap };

/** Listener registry with a `waitFor` helper. */
export interface ChatEmitter {
  emit(event: ChatEvent): void;
  /** Registers a listener; returns the function that removes it. */
  on(listener: (event: ChatEvent) => void): () => void;
  /**
   * Resolves once `predicate` holds, checking now and after every event;
   * rejects after `timeoutMs`. For tests and scripts.
   */
  waitFor(predicate: () => boolean, timeoutMs: number, what?: string): Promise<void>;
}

/** Creates an emitter whose waitFor timeouts run on `timers`. */
export function createChatEmitter(deps: { timers: Timers }): ChatEmitter {
  const listeners = new Set<(event: ChatEvent) => void>();

  const on = (listener: (event: ChatEvent) => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };

  return {
    emit(event) {
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (err) {
          // A broken listener must not stop message handling; surface it
          // where the host reports uncaught errors instead.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    },
    on,
    waitFor(predicate, timeoutMs, what = "condition") {
      if (predicate()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const finish = (err?: Error): void => {
          off();
          cancel();
          if (err) reject(err);
          else resolve();
        };
        const off = on(() => {
          let ok = false;
          try {
            ok = predicate();
          } catch (err) {
            finish(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (ok) finish();
        });
        const cancel = deps.timers.after(timeoutMs, () => finish(new Error(`waitFor timed out after ${timeoutMs} ms: ${what}`)));
      });
    },
  };
}
