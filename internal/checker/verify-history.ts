import type { FinalConversation, HeldMessage, History, ServerConversation } from "./history.ts";
import { verifyObservations, verifySends } from "./verify-observations.ts";
import { createViolationLog, type Verdict, type ViolationLog } from "./violations.ts";

/** Lookups over the server's authoritative state, shared by every check. */
export interface ServerIndex {
  readonly conversation: (conversationId: string) => ServerConversation | undefined;
  readonly bySeq: (conversationId: string, seq: number) => HeldMessage | undefined;
  readonly byClientMsgId: (conversationId: string, clientMsgId: string) => HeldMessage | undefined;
}

/** Lookups over the history's shape (who participates where, what each device ended with). */
export interface HistoryIndex {
  readonly server: ServerIndex;
  /** Every device of both participants of the conversation. */
  readonly devicesOf: (conversationId: string) => readonly string[];
  readonly participants: (conversationId: string) => readonly string[];
  readonly final: (deviceId: string, conversationId: string) => FinalConversation | undefined;
}

/**
 * Checks a history against DESIGN §3 invariants 1-5. Pure: the same history
 * always gives the same verdict. The server's end state is the reference:
 * every device of both participants must hold exactly its messages (same
 * seqs, client ids and prev_seq links), and every composed message must be
 * in it; observations made during the run must never contradict it.
 */
export function verifyHistory(history: History): Verdict {
  const log = createViolationLog(history);
  const index = indexHistory(history);
  for (const server of history.server) verifyServerConversation(server, log);
  const live = new Map(history.final.map((d) => [d.deviceId, d.live]));
  // A device missing from the final state counts as not live (it never came back).
  for (const device of history.devices) verifyDevice(device.deviceId, live.get(device.deviceId) ?? false, history, index, log);
  verifySends(history, index, log);
  verifyObservations(history, index, log);
  return log.verdict();
}

function indexHistory(history: History): HistoryIndex {
  const servers = new Map(history.server.map((s) => [s.conversationId, s]));
  const bySeq = new Map<string, Map<number, HeldMessage>>();
  const byId = new Map<string, Map<string, HeldMessage>>();
  for (const s of history.server) {
    bySeq.set(s.conversationId, new Map(s.messages.map((m) => [m.seq, m])));
    // First occurrence wins: a duplicate is reported by the server check.
    const ids = new Map<string, HeldMessage>();
    for (const m of s.messages) if (!ids.has(m.clientMsgId)) ids.set(m.clientMsgId, m);
    byId.set(s.conversationId, ids);
  }
  const finals = new Map<string, Map<string, FinalConversation>>();
  for (const d of history.final) finals.set(d.deviceId, new Map(d.conversations.map((c) => [c.conversationId, c])));
  const participants = new Map(history.conversations.map((c) => [c.conversationId, [...c.userIds]]));
  return {
    server: {
      conversation: (id) => servers.get(id),
      bySeq: (id, seq) => bySeq.get(id)?.get(seq),
      byClientMsgId: (id, clientMsgId) => byId.get(id)?.get(clientMsgId),
    },
    participants: (id) => participants.get(id) ?? [],
    devicesOf: (id) => {
      const users = new Set(participants.get(id) ?? []);
      return history.devices.filter((d) => users.has(d.userId)).map((d) => d.deviceId);
    },
    final: (deviceId, id) => finals.get(deviceId)?.get(id),
  };
}

/** Reports seqs that do not rise, broken prev_seq links and repeated client ids in one list. */
function verifyList(owner: string, conversationId: string, messages: readonly HeldMessage[], log: ViolationLog): void {
  const ids = new Set<string>();
  let previous: HeldMessage | undefined;
  for (const m of messages) {
    if (previous && m.seq <= previous.seq) {
      log.add("reordered", `${owner}:${conversationId}:order`, `${owner} holds seq ${m.seq} after ${previous.seq} in ${conversationId}`);
    }
    const expectedPrev = previous?.seq ?? 0;
    if (m.prevSeq !== expectedPrev) {
      log.add(
        "gap",
        `${owner}:${conversationId}:${m.seq}`,
        `${owner}: in ${conversationId} seq ${m.seq} has prev_seq ${m.prevSeq} but the message before it is ${expectedPrev}`,
        (o) => o.kind === "message" && o.conversationId === conversationId && (o.seq === m.seq || o.seq === expectedPrev),
      );
    }
    if (ids.has(m.clientMsgId)) {
      log.add(
        "duplicated",
        `${conversationId}:${m.clientMsgId}`,
        `${owner} holds client id ${m.clientMsgId} twice in ${conversationId}`,
        (o) => o.kind === "message" && o.clientMsgId === m.clientMsgId,
      );
    }
    ids.add(m.clientMsgId);
    previous = m;
  }
}

function verifyServerConversation(server: ServerConversation, log: ViolationLog): void {
  const { conversationId, messages, headSeq, watermarks } = server;
  verifyList("server", conversationId, messages, log);
  const last = messages[messages.length - 1]?.seq ?? 0;
  if (headSeq !== last) log.add("gap", `server:${conversationId}:head`, `server head of ${conversationId} is ${headSeq}, last stored seq ${last}`);
  for (const w of watermarks) {
    const key = `${conversationId}:${w.userId}`;
    if (!(w.readSeq <= w.deliveredSeq && w.deliveredSeq <= headSeq)) {
      log.add("bad_watermark", key, `server watermarks of ${w.userId} in ${conversationId}: read ${w.readSeq}, delivered ${w.deliveredSeq}, head ${headSeq}`);
    } else if (w.deliveredSeq < headSeq) {
      // Every device holds the head after quiescence and acks its cursor, so delivered must reach it.
      log.add("bad_watermark", key, `delivered of ${w.userId} in ${conversationId} stays at ${w.deliveredSeq} below head ${headSeq}: acks did not converge`);
    }
  }
}

/** Compares what a device holds with the server; every difference makes the device unconverged. */
function verifyDevice(deviceId: string, live: boolean, history: History, index: HistoryIndex, log: ViolationLog): void {
  const problems: string[] = live ? [] : ["not live"];
  const user = history.devices.find((d) => d.deviceId === deviceId)?.userId;
  for (const c of history.conversations) {
    if (!user || !c.userIds.includes(user)) continue;
    const id = c.conversationId;
    const server = index.server.conversation(id);
    const held = index.final(deviceId, id);
    const messages = held?.messages ?? [];
    verifyList(deviceId, id, messages, log);
    if (held && held.hasOlder) log.add("gap", `${deviceId}:${id}:older`, `${deviceId} cannot reach older history of ${id}`);
    const last = messages[messages.length - 1]?.seq ?? 0;
    if (held && held.cursor !== last) log.add("gap", `${deviceId}:${id}:cursor`, `${deviceId} cursor ${held.cursor} below its last held seq ${last} in ${id}`);
    for (const m of messages) {
      const reference = index.server.bySeq(id, m.seq);
      if (!reference) {
        log.add("phantom", `${deviceId}:${id}:${m.seq}`, `${deviceId} holds seq ${m.seq} of ${id} which the server does not`);
      } else if (reference.clientMsgId !== m.clientMsgId || reference.prevSeq !== m.prevSeq) {
        log.add(
          "reordered",
          `${deviceId}:${id}:${m.seq}`,
          `${deviceId} holds ${m.clientMsgId} (prev ${m.prevSeq}) at seq ${m.seq} of ${id}; the server holds ${reference.clientMsgId} (prev ${reference.prevSeq})`,
          (o) => o.kind === "message" && o.conversationId === id && o.seq === m.seq,
        );
      }
    }
    const heldSeqs = new Set(messages.map((m) => m.seq));
    const missing = (server?.messages ?? []).filter((m) => !heldSeqs.has(m.seq)).length;
    if (missing > 0) problems.push(`${id}: misses ${missing} of the server's ${server?.messages.length} messages`);
    if (held && held.pendingSends > 0) problems.push(`${id}: ${held.pendingSends} own messages still pending`);
    for (const w of server?.watermarks ?? []) {
      const mine = held?.watermarks.find((x) => x.userId === w.userId);
      if (mine?.deliveredSeq !== w.deliveredSeq || mine.readSeq !== w.readSeq) {
        problems.push(
          `${id}: shows ${w.userId} at delivered ${mine?.deliveredSeq ?? 0}/read ${mine?.readSeq ?? 0}, server ${w.deliveredSeq}/${w.readSeq}`,
        );
      }
    }
  }
  if (problems.length > 0) {
    log.add("unconverged", deviceId, `${deviceId} differs from the server: ${problems.slice(0, 4).join("; ")}`);
  }
}
