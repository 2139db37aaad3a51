import type { PresenceView, Tick } from "../../client/index.ts";

const DAY_MS = 24 * 3_600_000;

const startOfDay = (ms: number): number => {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
};

/** "14:03" today, "Yesterday", or "3 Mar" for older times (conversation list). */
export function shortTime(ms: number, nowMs: number): string {
  const today = startOfDay(nowMs);
  if (ms >= today) return clock(ms);
  if (ms >= today - DAY_MS) return "Yesterday";
  return new Date(ms).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

/** "14:03" in the user's locale. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** The header's status line: "online", "last seen today at 14:03", ... ("" if never seen). */
export function presenceText(presence: PresenceView | undefined, nowMs: number): string {
  if (!presence) return "";
  if (presence.online) return "online";
  if (presence.lastSeenMs <= 0) return "";
  const today = startOfDay(nowMs);
  const at = clock(presence.lastSeenMs);
  if (presence.lastSeenMs >= today) return `last seen today at ${at}`;
  if (presence.lastSeenMs >= today - DAY_MS) return `last seen yesterday at ${at}`;
  const day = new Date(presence.lastSeenMs).toLocaleDateString(undefined, { day: "numeric", month: "short" });
  return `last seen ${day} at ${at}`;
}

/** What a screen reader says for a tick. */
export const tickLabel: Record<Tick, string> = {
  pending: "Pending",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Not sent",
};
