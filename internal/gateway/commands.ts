import type { Logger } from "pino";
import type { Identity } from "../auth/index.ts";
import {
  BackendUnavailableError,
  DomainError,
  conversationIdFor,
  forbidden,
  invalid,
  isConversationIdShape,
  isParticipant,
  isUuidShape,
  notFound,
  peerOf,
  type Clock,
  type Conversation,
  type ConversationId,
  type UserId,
} from "../domain/index.ts";
import { encodeClientEvent, type ClientEvent } from "../log/log-event-codec.ts";
import type { MessageLog } from "../log/index.ts";
import type { PushLink } from "../push/index.ts";
import type { RoutingTable } from "../routing/index.ts";
import type { MessageStore } from "../store/index.ts";
import type { Metrics } from "../metrics/index.ts";
import { createPushBatch } from "../delivery/index.ts";
import type { RateLimiter } from "./rate-limiter.ts";

/**
 * The client actions shared by every transport (bidi frames and unary calls):
 * validate, authorize, rate-limit, then publish to the log. Nothing is
 * written anywhere before validation passes.
 */
export interface Commands {
  /** Resolves once the send is durable in the log ("sent"). */
  send(who: Identity, input: { clientMsgId: string; conversationId: string; text: string }): Promise<void>;
  /**
   * Ack (delivered) or read marker up to seq. `knownHead` is a seq the caller
   * knows to exist in the conversation (what this gateway already sent the
   * device): a receipt at or below it needs no store read of the head.
   */
  receipt(who: Identity, kind: "ack" | "read", conversationId: string, seq: number, knownHead?: number): Promise<void>;
  typing(who: Identity, conversationId: string, typing: boolean): Promise<void>;
  /** The conversation, if the caller is a participant; throws otherwise. */
  conversationFor(who: Identity, conversationId: string): Promise<Conversation>;
  /** Throws NOT_A_PEER unless every user shares a conversation with the caller. */
  assertPeers(who: Identity, userIds: readonly string[]): Promise<UserId[]>;
}

export interface CommandsConfig {
  readonly maxBodyBytes: number;
}

export function createCommands(
  cfg: CommandsConfig,
  deps: {
    log: MessageLog;
    store: MessageStore;
    routing: RoutingTable;
    push: PushLink;
    limiter: RateLimiter;
    clock: Clock;
    logger: Logger;
    metrics?: Metrics;
  },
): Commands {
  const { store, log } = deps;
  // Conversations never change once created: a bounded cache spares the store.
  const cache = new Map<ConversationId, Conversation>();
  const encoder = new TextEncoder();

  async function conversationFor(who: Identity, conversationId: string): Promise<Conversation> {
    if (!isConversationIdShape(conversationId)) {
      throw notFound("CONVERSATION_UNKNOWN", "no such conversation");
    }
    const id = conversationId as ConversationId;
    let c = cache.get(id);
    if (!c) {
      c = await store.getConversation(id);
      if (!c) throw notFound("CONVERSATION_UNKNOWN", "no such conversation");
      if (cache.size >= 100_000) cache.clear();
      cache.set(id, c);
    }
    if (!isParticipant(c, who.userId)) throw forbidden("NOT_A_PARTICIPANT", "not a participant of this conversation");
    return c;
  }

  function limit(who: Identity): void {
    if (!deps.limiter.take(who.deviceId)) {
      throw new DomainError("exhausted", "RATE_LIMITED", "too many requests from this device; slow down");
    }
  }

  async function publish(event: ClientEvent): Promise<void> {
    const stop = deps.metrics?.logAppendSeconds.startTimer();
    try {
      await log.append([{ key: event.conversationId, value: encodeClientEvent(event) }]);
      stop?.();
      deps.metrics?.commands.inc({ kind: event.type });
    } catch (err) {
      if (err instanceof BackendUnavailableError) throw err;
      throw new BackendUnavailableError("log", "append failed", { cause: err });
    }
  }

  const commands: Commands = {
    conversationFor,
    async send(who, input) {
      if (!isUuidShape(input.clientMsgId)) throw invalid("INVALID_ARGUMENT", "client_msg_id must be a UUID");
      if (input.text.length === 0) throw invalid("BODY_EMPTY", "message text is empty");
      // JSON-decoded strings can carry lone surrogates that are not valid UTF-8.
      if (!input.text.isWellFormed()) throw invalid("INVALID_UTF8", "message text is not valid UTF-8");
      const bytes = encoder.encode(input.text).length;
      if (bytes > cfg.maxBodyBytes) {
        throw invalid("BODY_TOO_LARGE", `message text is ${bytes} bytes; the limit is ${cfg.maxBodyBytes}`);
      }
      const conv = await conversationFor(who, input.conversationId);
      limit(who);
      await publish({
        type: "send",
        conversationId: conv.id,
        userId: who.userId,
        deviceId: who.deviceId,
        acceptedAtMs: deps.clock.nowMs(),
        clientMsgId: input.clientMsgId,
        text: input.text,
      });
    },
    async receipt(who, kind, conversationId, seq, knownHead = 0) {
      if (!Number.isSafeInteger(seq) || seq <= 0) throw invalid("INVALID_ARGUMENT", "seq must be a positive integer");
      const conv = await conversationFor(who, conversationId);
      if (seq > knownHead) {
        const head = await store.headSeq(conv.id);
        if (seq > head) throw new DomainError("out_of_range", "SEQ_BEYOND_HEAD", `seq ${seq} is beyond the conversation head ${head}`);
      }
      limit(who);
      await publish({
        type: kind,
        conversationId: conv.id,
        userId: who.userId,
        deviceId: who.deviceId,
        acceptedAtMs: deps.clock.nowMs(),
        seq,
      });
    },
    async typing(who, conversationId, typing) {
      const conv = await conversationFor(who, conversationId);
      limit(who);
      // Ephemeral: straight to the peer's devices, not through the log.
      const out = createPushBatch(deps);
      out.toUsers([peerOf(conv, who.userId)], { type: "typing", conversationId: conv.id, userId: who.userId, typing });
      await out.flush();
    },
    async assertPeers(who, userIds) {
      const out: UserId[] = [];
      for (const raw of new Set(userIds)) {
        const u = raw as UserId;
        if (u === who.userId) continue;
        const c = await store.getConversation(conversationIdFor(who.userId, u));
        if (!c) throw forbidden("NOT_A_PEER", `no conversation with user ${raw}`);
        out.push(u);
      }
      return out;
    },
  };
  return deps.metrics ? countRefusals(commands, deps.metrics) : commands;
}

/** Counts every refused command by its reason (chat_refusals_total). */
function countRefusals(commands: Commands, metrics: Metrics): Commands {
  const wrap =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (err) {
        metrics.refusals.inc({ reason: err instanceof DomainError ? err.reason : "BACKEND" });
        throw err;
      }
    };
  return {
    send: wrap(commands.send),
    receipt: wrap(commands.receipt),
    typing: wrap(commands.typing),
    conversationFor: wrap(commands.conversationFor),
    assertPeers: wrap(commands.assertPeers),
  };
}
