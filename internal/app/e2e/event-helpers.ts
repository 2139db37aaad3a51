import type { ServerEvent } from "../../../gen/chat/v1/chat_service_pb.ts";
import type { Message, Receipt } from "../../../gen/chat/v1/types_pb.ts";

/** The messages among recorded events, optionally of one conversation, in arrival order. */
export function messagesOf(events: readonly ServerEvent[], conversationId?: string): Message[] {
  const out: Message[] = [];
  for (const e of events) {
    if (e.event.case === "message" && (!conversationId || e.event.value.conversationId === conversationId)) out.push(e.event.value);
  }
  return out;
}

export const textOf = (m: Message): string => (m.body.case === "text" ? m.body.value : "");

export const isMessage = (text: string) => (e: ServerEvent) => e.event.case === "message" && textOf(e.event.value) === text;

export const isReceipt = (userId: string, pred: (r: Receipt) => boolean) => (e: ServerEvent) =>
  e.event.case === "receipt" && e.event.value.userId === userId && pred(e.event.value);

/**
 * Checks a device's view of one conversation: strictly increasing seqs, no
 * duplicates, and an unbroken prev_seq chain from `fromSeq`.
 */
export function assertChain(messages: readonly Message[], fromSeq = 0n): void {
  let last = fromSeq;
  const seen = new Set<bigint>();
  for (const m of messages) {
    if (seen.has(m.seq)) throw new Error(`duplicate seq ${m.seq}`);
    seen.add(m.seq);
    if (m.seq <= last) throw new Error(`seq ${m.seq} not above ${last}`);
    if (m.prevSeq !== last) throw new Error(`gap: message ${m.seq} has prev ${m.prevSeq}, device holds ${last}`);
    last = m.seq;
  }
}
