import type { ConversationId, ConversationSummary, Seq, StoredMessage, UserId, Watermarks } from "../domain/index.ts";
import type { MessageStore } from "../store/index.ts";

/** What catch-up tells a device, in order, in domain terms (the gateway encodes it). */
export type SyncItem =
  | { readonly type: "conversation"; readonly summary: ConversationSummary; readonly reset: boolean; readonly fromSeq: Seq }
  | { readonly type: "message"; readonly message: StoredMessage }
  | { readonly type: "receipt"; readonly conversationId: ConversationId; readonly userId: UserId; readonly watermarks: Watermarks };

export interface CatchUpConfig {
  /** Messages in the recent window of a conversation the device has no cursor for. */
  readonly recentWindow: number;
  /** Messages read from the store per page. */
  readonly pageSize: number;
}

export interface CatchUpResult {
  readonly conversations: number;
  readonly messages: number;
}

/**
 * Streams a device's catch-up (DESIGN §5): for each of the user's
 * conversations, a header, every message after the device's cursor (or the
 * recent window when it has none, or a reset + window when the server cannot
 * vouch for the cursor), then both participants' watermarks.
 *
 * Must run *after* the device's session is registered for live pushes: any
 * message stored after this reads the store is pushed live (and buffered until
 * catch-up ends), so nothing falls between the two.
 *
 * `emit` applies backpressure: it resolves when the device can take more, so
 * memory stays bounded by one page however far behind the device is.
 */
export async function runCatchUp(
  cfg: CatchUpConfig,
  deps: { store: MessageStore },
  input: { userId: UserId; cursors: ReadonlyMap<ConversationId, Seq>; isCancelled: () => boolean },
  emit: (item: SyncItem) => Promise<void>,
): Promise<CatchUpResult> {
  const { store } = deps;
  const summaries = await store.listConversations(input.userId);
  let messages = 0;
  for (const summary of summaries) {
    if (input.isCancelled()) break;
    const id = summary.conversation.id;
    const cursor = input.cursors.get(id);
    const head = summary.headSeq;
    if (cursor !== undefined && cursor <= head) {
      await emit({ type: "conversation", summary, reset: false, fromSeq: cursor });
      let after = cursor;
      while (after < head && !input.isCancelled()) {
        const page = await store.messagesAfter(id, after, cfg.pageSize);
        if (page.length === 0) break;
        for (const message of page) {
          if (message.seq > head) break; // newer ones arrive live
          await emit({ type: "message", message });
          messages++;
        }
        after = page[page.length - 1]!.seq;
      }
    } else {
      // No cursor (new device) or a cursor beyond the head (another epoch or
      // wiped data): the recent window, and an explicit reset for the latter.
      const window = head > 0 ? await store.messagesBefore(id, head + 1, cfg.recentWindow) : [];
      await emit({ type: "conversation", summary, reset: cursor !== undefined, fromSeq: window[0]?.prevSeq ?? 0 });
      for (const message of window) {
        await emit({ type: "message", message });
        messages++;
      }
    }
    await emit({ type: "receipt", conversationId: id, userId: input.userId, watermarks: summary.own });
    await emit({ type: "receipt", conversationId: id, userId: summary.peerUserId, watermarks: summary.peer });
  }
  return { conversations: summaries.length, messages };
}
