import type { Conversation } from "../../../gen/chat/v1/types_pb.ts";
import {
  collectServerState,
  listAll,
  ownWatermarks,
  readFinalConversation,
  verifyHistory,
  watermarksShown,
  type FinalConversation,
  type FinalDevice,
  type Verdict,
} from "../../checker/index.ts";
import type { ClusterFleet, FleetDevice } from "./cluster-fleet.ts";

/** The ChatService as one user's direct device, straight to a gateway (no proxy), one connection per call. */
export { directApi } from "../../checker/index.ts";

/** The first reason the fleet has not settled with the server, or "" when it has. */
function unsettled(fleet: ClusterFleet, listed: Map<string, Map<string, Conversation>>): string {
  for (const c of fleet.conversations) {
    const views = c.userIds.map((u) => listed.get(u)?.get(c.conversationId));
    const head = Number(views[0]?.headSeq ?? 0n);
    for (const [i, userId] of c.userIds.entries()) {
      const w = ownWatermarks(views[i], userId);
      if (w.deliveredSeq !== head) return `${userId} delivered ${w.deliveredSeq} of head ${head} in ${c.conversationId}`;
    }
    for (const device of fleet.devices.filter((d) => c.userIds.includes(d.userId))) {
      const state = device.client.connectionState();
      if (state !== "live") return `${device.name} is ${state}`;
      const cursor = device.client.conversation(c.conversationId)?.cursor ?? 0;
      if (cursor < head) return `${device.name} holds ${c.conversationId} up to ${cursor} of ${head}`;
      if (device.client.messages(c.conversationId).some((m) => m.own && m.tick === "pending")) {
        return `${device.name} has pending sends in ${c.conversationId}`;
      }
      // "Sent" is appended to the log; the head moves only once a worker stored it (a backlog shows only here).
      if (device.client.messages(c.conversationId).some((m) => m.own && (m.seq === undefined || m.seq > cursor))) {
        return `${device.name} has sends in ${c.conversationId} not stored yet`;
      }
      for (const [i, userId] of c.userIds.entries()) {
        const expected = ownWatermarks(views[i], userId);
        const shown = watermarksShown(device.client, c.conversationId, userId);
        if (shown.deliveredSeq !== expected.deliveredSeq || shown.readSeq !== expected.readSeq) {
          return `${device.name} shows ${userId} at ${shown.deliveredSeq}/${shown.readSeq}, server ${expected.deliveredSeq}/${expected.readSeq}`;
        }
      }
    }
  }
  return "";
}

/**
 * Waits until every device is live, holds every conversation up to the
 * server's head, has nothing pending, and shows the server's watermarks
 * (which have reached the head). Throws with what it still waited for.
 */
export async function settleFleet(fleet: ClusterFleet, url: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let blockedOn = "not polled";
  for (let poll = 0; poll < 10_000 && Date.now() < deadline; poll++) {
    try {
      blockedOn = unsettled(fleet, await listAll(url(), fleet.users));
    } catch (err) {
      blockedOn = `server unreachable: ${String(err)}`;
    }
    if (blockedOn === "") return;
    await Bun.sleep(200);
  }
  throw new Error(`fleet did not settle within ${timeoutMs} ms: ${blockedOn}`);
}

async function finalDevice(fleet: ClusterFleet, device: FleetDevice): Promise<FinalDevice> {
  const conversations: FinalConversation[] = [];
  for (const c of fleet.conversations.filter((x) => x.userIds.includes(device.userId))) {
    // A device that learned of a conversation late holds its recent window only: older history is paged in first.
    conversations.push(await readFinalConversation(device.client, device.storage, c.conversationId));
  }
  return { deviceId: device.deviceId, live: device.client.connectionState() === "live", conversations };
}

/**
 * Judges the whole run with the history checker (DESIGN §3, invariants 1-5):
 * every device's final history against the server's, every composed message
 * present everywhere exactly once, every observation consistent. Call after
 * settleFleet.
 */
export async function verifyFleet(fleet: ClusterFleet, url: string): Promise<Verdict> {
  const final: FinalDevice[] = [];
  for (const device of fleet.devices) final.push(await finalDevice(fleet, device));
  const server = await collectServerState(url, fleet.users, fleet.conversations);
  return verifyHistory({ ...fleet.snapshot(), conversations: fleet.conversations, final, server });
}

/** A verdict as readable lines for a failing expectation (empty when ok). */
export function violationsOf(verdict: Verdict): string[] {
  return verdict.violations.map((v) => `${v.kind}: ${v.message}${v.evidence.length ? `\n    ${v.evidence.join("\n    ")}` : ""}`);
}
