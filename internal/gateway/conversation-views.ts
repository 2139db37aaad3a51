import type { Conversation as WireConversation } from "../../gen/chat/v1/types_pb.ts";
import type { ConversationSummary, UserId } from "../domain/index.ts";
import type { PresenceService } from "../presence/index.ts";
import type { AccountStore } from "../store/index.ts";
import { toWireConversation } from "./wire.ts";

/** Builds wire conversations: the summary plus the peer's username and presence. */
export interface ConversationViews {
  build(self: UserId, summaries: readonly ConversationSummary[]): Promise<WireConversation[]>;
  username(userId: UserId): Promise<string>;
}

export function createConversationViews(deps: { accounts: AccountStore; presence: PresenceService }): ConversationViews {
  // Usernames never change: a bounded cache spares the store on every sync.
  const names = new Map<UserId, string>();
  const username = async (id: UserId): Promise<string> => {
    const hit = names.get(id);
    if (hit !== undefined) return hit;
    const user = await deps.accounts.getUser(id);
    const name = user?.username ?? "";
    if (names.size >= 100_000) names.clear();
    names.set(id, name);
    return name;
  };
  return {
    username,
    async build(self, summaries) {
      const presence = await deps.presence.lookup(summaries.map((s) => s.peerUserId));
      return Promise.all(
        summaries.map(async (s) => toWireConversation(s, self, await username(s.peerUserId), presence.get(s.peerUserId))),
      );
    },
  };
}
