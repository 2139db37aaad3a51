import type { History, Observation } from "./history.ts";
import type { HistoryIndex } from "./verify-history.ts";
import type { ViolationLog } from "./violations.ts";

/**
 * Every composed message must end on every device of both participants
 * (invariant 3), under the seq its sender was told (invariant 2), and one
 * device's messages to one conversation keep their composition order
 * (the outbox is FIFO: DESIGN §1 "in order and exactly once").
 */
export function verifySends(history: History, index: HistoryIndex, log: ViolationLog): void {
  const lastSeqOfLane = new Map<string, number>();
  const composed = new Set<string>();
  for (const send of history.sends) {
    const { clientMsgId: id, conversationId: conv } = send;
    composed.add(`${conv}\u0000${id}`);
    const aboutIt = (o: Observation): boolean => o.kind === "message" && o.clientMsgId === id;
    if (send.failed !== undefined) {
      log.add("failed", id, `${send.deviceId}: message ${id} to ${conv} refused for good (${send.failed})`);
      continue;
    }
    const missing = index
      .devicesOf(conv)
      .filter((d) => !index.final(d, conv)?.messages.some((m) => m.clientMsgId === id));
    const stored = index.server.byClientMsgId(conv, id);
    if (missing.length > 0) {
      const where = `${stored ? `server holds it at seq ${stored.seq}` : "the server does not hold it"}; missing on ${missing.join(", ")}`;
      if (send.sentAck) log.add("lost", id, `message ${id} to ${conv} from ${send.deviceId} was acknowledged "sent": ${where}`, aboutIt);
      else log.add("undelivered", id, `message ${id} to ${conv} from ${send.deviceId} (never acknowledged): ${where}`, aboutIt);
    }
    if (!stored) continue;
    if (send.resultSeq !== undefined && send.resultSeq !== stored.seq) {
      log.add(
        "duplicated",
        `${conv}:${id}`,
        `${send.deviceId} was told seq ${send.resultSeq} for ${id}, the server holds it at ${stored.seq}`,
        aboutIt,
      );
    }
    const lane = `${send.deviceId}\u0000${conv}`;
    const before = lastSeqOfLane.get(lane) ?? 0;
    if (stored.seq <= before) {
      log.add(
        "reordered",
        `fifo:${send.deviceId}:${conv}:${id}`,
        `${send.deviceId} composed ${id} after a message now at seq ${before}, but it sits at seq ${stored.seq} in ${conv}`,
        aboutIt,
      );
    }
    lastSeqOfLane.set(lane, Math.max(before, stored.seq));
  }
  for (const server of history.server) {
    for (const m of server.messages) {
      if (composed.has(`${server.conversationId}\u0000${m.clientMsgId}`)) continue;
      log.add("phantom", `${server.conversationId}:${m.clientMsgId}`, `the server holds ${m.clientMsgId} at seq ${m.seq} of ${server.conversationId}, which nobody composed`);
    }
  }
}

/**
 * What devices showed while the run went on: no message handed to the app
 * twice, one seq per client id, no message contradicting the server's
 * record, and watermarks that never go down (invariant 5) except across a
 * server-ordered reset of the conversation.
 */
export function verifyObservations(history: History, index: HistoryIndex, log: ViolationLog): void {
  const seenSeqs = new Map<string, Set<number>>();
  const seqOfClientId = new Map<string, number>();
  // Highest watermarks shown so far per (device, conversation, user), and the observation that raised them.
  const watermarks = new Map<string, { deliveredSeq: number; readSeq: number; raisedBy: Observation }>();
  for (const o of history.observations) {
    if (o.kind === "fault") continue;
    const lane = `${o.deviceId}\u0000${o.conversationId}`;
    if (o.kind === "reset") {
      seenSeqs.delete(lane);
      for (const key of [...watermarks.keys()]) if (key.startsWith(`${lane}\u0000`)) watermarks.delete(key);
      continue;
    }
    if (o.kind === "message") {
      verifyMessageObservation(o, seenSeqs, seqOfClientId, index, log);
      continue;
    }
    const key = `${lane}\u0000${o.userId}`;
    const before = watermarks.get(key);
    if (before && (o.deliveredSeq < before.deliveredSeq || o.readSeq < before.readSeq)) {
      log.add(
        "receipt_regression",
        `${key}:${o.atMs}:${o.deliveredSeq}:${o.readSeq}`,
        `${o.deviceId} showed ${o.userId}'s watermarks in ${o.conversationId} go from delivered ${before.deliveredSeq}/read ${before.readSeq} to ${o.deliveredSeq}/${o.readSeq}`,
        (x) => x === before.raisedBy || x === o,
      );
    }
    if (o.readSeq > o.deliveredSeq) {
      log.add("bad_watermark", `${key}:${o.atMs}`, `${o.deviceId} showed ${o.userId} read ${o.readSeq} above delivered ${o.deliveredSeq}`, (x) => x === o);
    }
    // Keep the highest seen, so a later dip below any earlier value is caught.
    const rose = !before || o.deliveredSeq > before.deliveredSeq || o.readSeq > before.readSeq;
    watermarks.set(key, {
      deliveredSeq: Math.max(o.deliveredSeq, before?.deliveredSeq ?? 0),
      readSeq: Math.max(o.readSeq, before?.readSeq ?? 0),
      raisedBy: rose ? o : before.raisedBy,
    });
  }
}

function verifyMessageObservation(
  o: Extract<Observation, { kind: "message" }>,
  seenSeqs: Map<string, Set<number>>,
  seqOfClientId: Map<string, number>,
  index: HistoryIndex,
  log: ViolationLog,
): void {
  const lane = `${o.deviceId}\u0000${o.conversationId}`;
  const seen = seenSeqs.get(lane) ?? new Set<number>();
  seenSeqs.set(lane, seen);
  if (seen.has(o.seq)) {
    log.add(
      "duplicated",
      `${o.deviceId}:${o.conversationId}:seq${o.seq}`,
      `${o.deviceId} was handed seq ${o.seq} of ${o.conversationId} twice`,
      (x) => x.kind === "message" && x.deviceId === o.deviceId && x.conversationId === o.conversationId && x.seq === o.seq,
    );
  }
  seen.add(o.seq);
  const idKey = `${o.conversationId}\u0000${o.clientMsgId}`;
  const known = seqOfClientId.get(idKey);
  if (known === undefined) seqOfClientId.set(idKey, o.seq);
  else if (known !== o.seq) {
    log.add(
      "duplicated",
      `${o.conversationId}:${o.clientMsgId}`,
      `client id ${o.clientMsgId} arrived under seq ${known} and seq ${o.seq} in ${o.conversationId}`,
      (x) => x.kind === "message" && x.clientMsgId === o.clientMsgId,
    );
  }
  const reference = index.server.bySeq(o.conversationId, o.seq);
  if (!reference) {
    log.add("phantom", `${o.deviceId}:${o.conversationId}:${o.seq}`, `${o.deviceId} was handed seq ${o.seq} of ${o.conversationId}, which the server does not hold`, (x) => x === o);
  } else if (reference.clientMsgId !== o.clientMsgId || reference.prevSeq !== o.prevSeq) {
    log.add(
      "reordered",
      `${o.deviceId}:${o.conversationId}:${o.seq}`,
      `${o.deviceId} was handed ${o.clientMsgId} (prev ${o.prevSeq}) at seq ${o.seq} of ${o.conversationId}; the server holds ${reference.clientMsgId} (prev ${reference.prevSeq})`,
      (x) => x === o,
    );
  }
}
