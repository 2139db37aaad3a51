import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  AckResponseSchema,
  GetHistoryResponseSchema,
  GetPresenceResponseSchema,
  HeartbeatResponseSchema,
  ListConversationsResponseSchema,
  MarkReadResponseSchema,
  SendMessageResponseSchema,
  SetTypingResponseSchema,
  StartConversationResponseSchema,
  WatchPresenceResponseSchema,
  type AckRequest,
  type GetHistoryRequest,
  type GetPresenceRequest,
  type MarkReadRequest,
  type SendMessageRequest,
  type SetTypingRequest,
  type StartConversationRequest,
  type WatchPresenceRequest,
} from "../../gen/chat/v1/chat_service_pb.ts";
import { conversationIdFor, invalid, notFound, type ConversationId, type UserId } from "../domain/index.ts";
import type { AccountStore, MessageStore } from "../store/index.ts";
import type { ConversationViews } from "./conversation-views.ts";
import type { SessionHub } from "./session-hub.ts";
import { authenticate, watchPresence, type StreamHandlerDeps } from "./stream-handlers.ts";
import { toWireMessage, toWirePresence } from "./wire.ts";

const MAX_PAGE = 200;

/** The unary ChatService calls: browser-side commands and the queries. */
export function createUnaryHandlers(
  deps: StreamHandlerDeps & { hub: SessionHub; store: MessageStore; accounts: AccountStore; views: ConversationViews },
) {
  // Any authenticated call is a sign of life of the device's Subscribe stream.
  const who = (ctx: HandlerContext) => {
    const identity = authenticate(deps.signer, ctx.requestHeader);
    deps.hub.get(identity.deviceId)?.touch(deps.clock.nowMs());
    return identity;
  };
  const { commands, store } = deps;
  // What the device's stream here already carried is known to exist: no head read for it.
  const receipt = (ctx: HandlerContext, kind: "ack" | "read", conversationId: string, seq: bigint) => {
    const identity = who(ctx);
    const sent = deps.hub.get(identity.deviceId)?.sentUpTo(conversationId as ConversationId) ?? 0;
    return commands.receipt(identity, kind, conversationId, Number(seq), sent);
  };

  return {
    async sendMessage(req: SendMessageRequest, ctx: HandlerContext) {
      await commands.send(who(ctx), req);
      return create(SendMessageResponseSchema, { clientMsgId: req.clientMsgId });
    },
    async ack(req: AckRequest, ctx: HandlerContext) {
      await receipt(ctx, "ack", req.conversationId, req.seq);
      return create(AckResponseSchema);
    },
    async markRead(req: MarkReadRequest, ctx: HandlerContext) {
      await receipt(ctx, "read", req.conversationId, req.seq);
      return create(MarkReadResponseSchema);
    },
    async setTyping(req: SetTypingRequest, ctx: HandlerContext) {
      await commands.typing(who(ctx), req.conversationId, req.typing);
      return create(SetTypingResponseSchema);
    },
    async watchPresence(req: WatchPresenceRequest, ctx: HandlerContext) {
      const identity = who(ctx);
      const session = deps.hub.get(identity.deviceId);
      if (session) {
        const states = await watchPresence(deps, session, req.userIds);
        return create(WatchPresenceResponseSchema, { presences: states.map(toWirePresence) });
      }
      // No open stream: answer the current states, nothing to stream them to.
      const users = await commands.assertPeers(identity, req.userIds);
      const states = await deps.presence.lookup(users);
      return create(WatchPresenceResponseSchema, { presences: [...states.values()].map(toWirePresence) });
    },
    async heartbeat(_req: unknown, ctx: HandlerContext) {
      who(ctx);
      return create(HeartbeatResponseSchema, { serverTimeMs: BigInt(deps.clock.nowMs()) });
    },
    async startConversation(req: StartConversationRequest, ctx: HandlerContext) {
      const identity = who(ctx);
      let peer: UserId | undefined;
      if (req.peer.case === "peerUserId") peer = (await deps.accounts.getUser(req.peer.value as UserId))?.id;
      else if (req.peer.case === "peerUsername") peer = (await deps.accounts.findUserByName(req.peer.value))?.id;
      else throw invalid("INVALID_ARGUMENT", "peer_user_id or peer_username is required");
      if (!peer) throw notFound("RECIPIENT_UNKNOWN", "no such user");
      if (peer === identity.userId) throw invalid("INVALID_ARGUMENT", "cannot start a conversation with yourself");
      const id = conversationIdFor(identity.userId, peer);
      const [userA, userB] = identity.userId < peer ? [identity.userId, peer] : [peer, identity.userId];
      await store.ensureConversation({ id, userA, userB, createdAtMs: deps.clock.nowMs() });
      const summary = (await store.listConversations(identity.userId)).find((s) => s.conversation.id === id);
      if (!summary) throw new Error("conversation missing right after creation");
      const [conversation] = await deps.views.build(identity.userId, [summary]);
      return create(StartConversationResponseSchema, { conversation });
    },
    async listConversations(_req: unknown, ctx: HandlerContext) {
      const identity = who(ctx);
      const summaries = await store.listConversations(identity.userId);
      return create(ListConversationsResponseSchema, { conversations: await deps.views.build(identity.userId, summaries) });
    },
    async getHistory(req: GetHistoryRequest, ctx: HandlerContext) {
      const conv = await commands.conversationFor(who(ctx), req.conversationId);
      const limit = Math.min(Math.max(req.limit || 50, 1), MAX_PAGE);
      const forward = req.forward || req.afterSeq > 0n;
      if (forward) {
        const page = await store.messagesAfter(conv.id, Number(req.afterSeq), limit + 1);
        return create(GetHistoryResponseSchema, {
          messages: page.slice(0, limit).map(toWireMessage),
          hasMore: page.length > limit,
        });
      }
      if (req.beforeSeq <= 0n) throw invalid("INVALID_ARGUMENT", "before_seq must be > 0 (or set forward)");
      const page = await store.messagesBefore(conv.id, Number(req.beforeSeq), limit + 1);
      return create(GetHistoryResponseSchema, {
        messages: page.slice(-limit).map(toWireMessage),
        hasMore: page.length > limit,
      });
    },
    async getPresence(req: GetPresenceRequest, ctx: HandlerContext) {
      const users = await commands.assertPeers(who(ctx), req.userIds);
      const states = await deps.presence.lookup(users);
      return create(GetPresenceResponseSchema, { presences: [...states.values()].map(toWirePresence) });
    },
  };
}

