import { Code } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Identity } from "../auth/index.ts";
import { createSlots, type ConversationId, type GatewayId, type Seq } from "../domain/index.ts";
import type { PresenceService } from "../presence/index.ts";
import type { PushLink } from "../push/index.ts";
import type { RoutingTable } from "../routing/index.ts";
import type { MessageStore } from "../store/index.ts";
import { runCatchUp } from "../sync/index.ts";
import { createDeviceSession, type DeviceSession } from "./device-session.ts";
import { connectError } from "./error-mapping.ts";
import type { ConversationViews } from "./conversation-views.ts";
import type { SessionHub } from "./session-hub.ts";
import type { Metrics } from "../metrics/index.ts";
import { serverEvent, toWireMessage, toWireReceipt } from "./wire.ts";

export interface SessionOpenerConfig {
  readonly gatewayId: GatewayId;
  readonly queueLimit: number;
  readonly routeTtlMs: number;
  readonly heartbeatIntervalMs: number;
  readonly recentWindow: number;
  readonly maxConnections: number;
  /** Catch-ups running at once (a reconnect storm must not flood the store). */
  readonly catchUpConcurrency: number;
}

export interface SessionOpener {
  /** Registers a session for the device, then streams its catch-up in the background. */
  open(identity: Identity, kind: "bidi" | "subscribe", cursors: ReadonlyMap<ConversationId, Seq>): Promise<DeviceSession>;
  /** Stops accepting new sessions (drain). */
  stopAccepting(): void;
  /**
   * Re-sends what a live session may have missed while its route was gone
   * (pushes went nowhere): every stored message after what it was sent, and
   * the current watermarks. Goes through the live path, so it deduplicates.
   */
  resync(session: DeviceSession): Promise<void>;
}

export function createSessionOpener(
  cfg: SessionOpenerConfig,
  deps: {
    hub: SessionHub;
    routing: RoutingTable;
    push: PushLink;
    presence: PresenceService;
    store: MessageStore;
    views: ConversationViews;
    clock: { nowMs(): number };
    logger: Logger;
    metrics?: Metrics;
  },
): SessionOpener {
  const { hub, logger } = deps;
  let accepting = true;
  let sessionCounter = 0;
  const catchUpSlots = createSlots(cfg.catchUpConcurrency);

  /**
   * Catch-up once a slot is free. In a reconnect storm every device's
   * catch-up reads the store at once; bounded, the store answers each quickly
   * instead of timing all of them out (and each failure is a reconnect). A
   * waiting session already has its Welcome and buffers live events.
   */
  async function boundedCatchUp(session: DeviceSession, cursors: ReadonlyMap<ConversationId, Seq>): Promise<void> {
    const release = await catchUpSlots.acquire();
    try {
      if (!session.closed) await catchUp(session, cursors);
    } finally {
      release();
    }
  }

  async function catchUp(session: DeviceSession, cursors: ReadonlyMap<ConversationId, Seq>): Promise<void> {
    const self = session.identity.userId;
    const result = await runCatchUp(
      { recentWindow: cfg.recentWindow, pageSize: 200 },
      { store: deps.store },
      { userId: self, cursors, isCancelled: () => session.closed },
      async (item) => {
        switch (item.type) {
          case "conversation": {
            const [conversation] = await deps.views.build(self, [item.summary]);
            await session.sendSync(
              serverEvent({
                case: "syncConversation",
                value: { $typeName: "chat.v1.SyncConversation", conversation, reset: item.reset, fromSeq: BigInt(item.fromSeq) },
              }),
            );
            return;
          }
          case "message":
            return session.sendSync(serverEvent({ case: "message", value: toWireMessage(item.message) }), {
              conversationId: item.message.conversationId,
              seq: item.message.seq,
            });
          case "receipt":
            return session.sendSync(
              serverEvent({ case: "receipt", value: toWireReceipt(item.conversationId, item.userId, item.watermarks) }),
            );
        }
      },
    );
    await session.sendSync(
      serverEvent({
        case: "syncComplete",
        value: { $typeName: "chat.v1.SyncComplete", conversationCount: result.conversations, messageCount: result.messages },
      }),
    );
    // Only now do buffered live events flow, deduplicated against the catch-up.
    session.goLive();
  }

  /**
   * What runs once a session has closed. Made here rather than inline in the
   * async `open`: a closure there would keep open's whole scope (the
   * device's cursors among it) for as long as the stream stays open.
   */
  function cleanupOf(session: DeviceSession): () => void {
    return () => {
      const { id, identity } = session;
      if (session.closeReason) deps.metrics?.sessionsClosed.inc({ reason: session.closeReason });
      hub.detach(session);
      deps.presence.unwatch(id);
      deps.presence.deviceDisconnected(identity.userId);
      const about = { sessionId: id, deviceId: identity.deviceId };
      // Compare-and-delete: never erases the route of a newer session.
      void deps.routing
        .unregister(identity.deviceId, id)
        .then(() => logger.debug(about, "session closed"))
        .catch((err) => logger.warn({ ...about, err }, "route cleanup failed"));
    };
  }

  return {
    stopAccepting() {
      accepting = false;
    },
    async resync(session) {
      if (!session.live || session.closed) return;
      const summaries = await deps.store.listConversations(session.identity.userId);
      for (const s of summaries) {
        const id = s.conversation.id;
        let after = session.sentUpTo(id);
        while (after < s.headSeq && !session.closed) {
          const page = await deps.store.messagesAfter(id, after, 200);
          if (page.length === 0) break;
          for (const message of page) session.deliver({ type: "message", message });
          after = page[page.length - 1]!.seq;
        }
        session.deliver({ type: "receipt", conversationId: id, userId: session.identity.userId, watermarks: s.own });
        session.deliver({ type: "receipt", conversationId: id, userId: s.peerUserId, watermarks: s.peer });
      }
      logger.info({ sessionId: session.id, deviceId: session.identity.deviceId }, "route restored; session resynced");
    },
    async open(identity, kind, cursors) {
      if (!accepting) throw connectError(Code.Unavailable, "SHUTTING_DOWN", "gateway is draining; reconnect elsewhere");
      if (hub.size >= cfg.maxConnections && !hub.get(identity.deviceId)) {
        throw connectError(Code.ResourceExhausted, "TOO_MANY_CONNECTIONS", "gateway is at its connection limit");
      }
      const id = `${cfg.gatewayId}.${deps.clock.nowMs().toString(36)}.${(++sessionCounter).toString(36)}`;
      const session = createDeviceSession({ id, identity, kind, queueLimit: cfg.queueLimit, nowMs: deps.clock.nowMs() });
      // Fields rather than a child logger: a pino child per session is an
      // object and a bindings string held for the session's whole life.
      const about = { sessionId: id, deviceId: identity.deviceId };
      hub.attach(session);
      // Register for live pushes BEFORE reading the store for catch-up: whatever
      // is stored after the read is pushed to this session (see runCatchUp).
      const route = { deviceId: identity.deviceId, userId: identity.userId, gatewayId: cfg.gatewayId, sessionId: id };
      try {
        const previous = await deps.routing.register(route, cfg.routeTtlMs);
        if (previous && previous.gatewayId !== cfg.gatewayId) {
          void deps.push
            .push(previous.gatewayId, [{ deviceId: identity.deviceId, event: { type: "evict", sessionId: previous.sessionId } }])
            .catch(() => undefined);
        }
      } catch (err) {
        hub.detach(session);
        session.close();
        throw err;
      }
      deps.presence.deviceConnected(identity.userId);
      session.sendControl(
        serverEvent({
          case: "welcome",
          value: {
            $typeName: "chat.v1.Welcome",
            userId: identity.userId,
            deviceId: identity.deviceId,
            sessionId: id,
            serverTimeMs: BigInt(deps.clock.nowMs()),
            heartbeatIntervalMs: cfg.heartbeatIntervalMs,
            acceptsFrameBatches: kind === "bidi",
          },
        }),
      );
      session.whenClosed(cleanupOf(session));
      boundedCatchUp(session, cursors).catch((err) => {
        logger.error({ ...about, err }, "catch-up failed");
        session.close({ code: Code.Unavailable, reason: "INTERNAL", message: "catch-up failed; reconnect", retryAfterMs: 1000 });
      });
      logger.debug({ ...about, kind }, "session opened");
      return session;
    },
  };
}

