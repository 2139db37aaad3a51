import type { Conversation } from "../../gen/chat/v1/types_pb.ts";
import type { ChatClient, ClientStorage } from "../client/index.ts";
import type { CheckDevice } from "./check-device.ts";
import type { Fleet } from "./fleet.ts";
import type { FinalConversation, FinalDevice, WatermarkRecord } from "./history.ts";
import { listAll, ownWatermarks } from "./server-state.ts";

/** How long to wait for the fleet to settle once faults stop. */
export interface QuiescenceConfig {
  readonly timeoutMs: number;
  readonly pollMs: number;
}

/** Whether the fleet settled, and if not what it was still waiting for. */
export interface QuiescenceResult {
  readonly quiet: boolean;
  readonly waitedMs: number;
  /** The first unmet condition at the last poll ("" when quiet). */
  readonly blockedOn: string;
}

/**
 * The first reason the device is not settled with the server: every device
 * live, nothing pending in its outbox, holding each conversation up to the
 * head, and showing both participants' watermarks as the server has them.
 */
function unsettled(
  device: CheckDevice,
  conversationIds: readonly string[],
  listed: ReadonlyMap<string, ReadonlyMap<string, Conversation>>,
  peers: ReadonlyMap<string, string>,
): string | undefined {
  const client = device.client();
  if (!client) return `${device.deviceId} is down`;
  if (client.connectionState() !== "live") return `${device.deviceId} is ${client.connectionState()}`;
  for (const id of conversationIds) {
    const own = listed.get(device.userId)?.get(id);
    const peerId = peers.get(`${device.userId}\u0000${id}`) as string;
    const head = Number(own?.headSeq ?? 0n);
    const view = client.conversation(id);
    const cursor = view?.cursor ?? 0;
    if (cursor < head) return `${device.deviceId} holds ${id} up to ${cursor} of ${head}`;
    if (client.messages(id).some((m) => m.own && m.tick === "pending")) return `${device.deviceId} has pending sends in ${id}`;
    // "Sent" means appended to the log: the server's head moves only once a worker has stored the
    // message, so a backlog (a worker down, Kafka restarting) is visible only as own sends not held yet.
    if (client.messages(id).some((m) => m.own && (m.seq === undefined || m.seq > cursor))) {
      return `${device.deviceId} has sends in ${id} not stored yet`;
    }
    const ownOnServer = ownWatermarks(own, device.userId);
    // Acks ride the log too: until the user's delivered reaches the head, one may still be on its way.
    if (ownOnServer.deliveredSeq < head) return `${device.userId} delivered ${ownOnServer.deliveredSeq} of head ${head} in ${id}`;
    for (const expected of [ownOnServer, ownWatermarks(listed.get(peerId)?.get(id), peerId)]) {
      const shown = watermarksShown(client, id, expected.userId);
      if (shown.deliveredSeq !== expected.deliveredSeq || shown.readSeq !== expected.readSeq) {
        return `${device.deviceId} shows ${expected.userId} in ${id} at ${shown.deliveredSeq}/${shown.readSeq}, server ${expected.deliveredSeq}/${expected.readSeq}`;
      }
    }
  }
  return undefined;
}

/** One participant's watermarks as the device shows them (zeros when it shows none). */
export function watermarksShown(client: ChatClient, conversationId: string, userId: string): WatermarkRecord {
  const { own, peer } = client.receipts(conversationId);
  const w = userId === client.userId ? own : peer;
  return { userId, deliveredSeq: w?.deliveredSeq ?? 0, readSeq: w?.readSeq ?? 0 };
}

/** Polls devices and server until they agree or the timeout passes. */
export async function awaitQuiescence(
  cfg: QuiescenceConfig,
  deps: {
    readonly fleet: Fleet;
    readonly serverUrl: string;
    readonly clock: { nowMs(): number };
    /** Told what the wait is blocked on, every few seconds. */
    readonly progress?: (line: string) => void;
  },
): Promise<QuiescenceResult> {
  const { fleet, clock } = deps;
  const peers = new Map<string, string>();
  for (const c of fleet.conversations) {
    peers.set(`${c.userIds[0]}\u0000${c.conversationId}`, c.userIds[1]);
    peers.set(`${c.userIds[1]}\u0000${c.conversationId}`, c.userIds[0]);
  }
  const startMs = clock.nowMs();
  let blockedOn = "not polled";
  let reportedAtMs = startMs;
  for (let poll = 0; poll < 100_000 && clock.nowMs() - startMs < cfg.timeoutMs; poll++) {
    try {
      const listed = await listAll(deps.serverUrl, fleet.users);
      blockedOn = "";
      for (const user of fleet.users) {
        for (const device of user.devices) blockedOn ||= unsettled(device, user.conversationIds, listed, peers) ?? "";
      }
    } catch (err) {
      blockedOn = `server unreachable: ${String(err)}`;
    }
    if (blockedOn === "") return { quiet: true, waitedMs: clock.nowMs() - startMs, blockedOn };
    if (clock.nowMs() - reportedAtMs >= 5_000) {
      reportedAtMs = clock.nowMs();
      deps.progress?.(`still waiting after ${reportedAtMs - startMs} ms: ${blockedOn}`);
    }
    await Bun.sleep(cfg.pollMs);
  }
  return { quiet: false, waitedMs: clock.nowMs() - startMs, blockedOn };
}

/**
 * What every device holds at the end: pages older history in first (a
 * device that first heard of a conversation while away got only the recent
 * window, by design), then reads its storage, the durable truth.
 */
export async function collectFinalState(fleet: Fleet): Promise<FinalDevice[]> {
  const result: FinalDevice[] = [];
  for (const user of fleet.users) {
    for (const device of user.devices) {
      const final = await device.use(async (client) => {
        const conversations: FinalConversation[] = [];
        for (const id of user.conversationIds) conversations.push(await readFinalConversation(client, device.storage(), id));
        return { deviceId: device.deviceId, live: client.connectionState() === "live", conversations };
      });
      result.push(final ?? { deviceId: device.deviceId, live: false, conversations: [] });
    }
  }
  return result;
}

/**
 * What a device holds of one conversation: older history paged in first,
 * then its storage read (the durable truth), its cursor, pending sends and
 * the watermarks it shows.
 */
export async function readFinalConversation(
  client: ChatClient,
  storage: ClientStorage | undefined,
  conversationId: string,
): Promise<FinalConversation> {
  for (let page = 0; page < 1_000 && client.conversation(conversationId)?.hasOlder; page++) {
    const { loaded } = await client.loadOlder(conversationId, 200);
    if (loaded === 0) break;
  }
  const view = client.conversation(conversationId);
  const stored = (await storage?.listMessages(conversationId)) ?? [];
  const shown = client.messages(conversationId);
  const participants = [client.userId, view?.peerUserId ?? ""].filter((u) => u !== "");
  return {
    conversationId,
    messages: stored.map((m) => ({ seq: m.seq, prevSeq: m.prevSeq, clientMsgId: m.clientMsgId })),
    cursor: view?.cursor ?? 0,
    hasOlder: view?.hasOlder ?? false,
    // The view lists held messages, then own messages without a sequenced copy.
    pendingSends: Math.max(0, shown.length - stored.length),
    watermarks: participants.map((u) => watermarksShown(client, conversationId, u)),
  };
}
