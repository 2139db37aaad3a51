import type { ChatClient, ConnectionState, PresenceView, Tick } from "../../internal/client/index.ts";

/** Which view the terminal shows. */
export type View = { readonly kind: "list" } | { readonly kind: "chat"; readonly conversationId: string };

/** Everything a frame is drawn from besides the client's local state. */
export interface ScreenInput {
  readonly client: ChatClient;
  readonly username: string;
  readonly view: View;
  readonly connection: ConnectionState;
  /** Conversations whose peer is typing. */
  readonly typing: ReadonlySet<string>;
  /** One line of feedback (errors, hints). */
  readonly notice: string;
  readonly nowMs: number;
  /** Terminal height; the chat view shows as many messages as fit. */
  readonly rows: number;
  /** Colours (ANSI) when writing to a terminal. */
  readonly color: boolean;
}

const ansi = (code: string) => (color: boolean, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = ansi("1");
const dim = ansi("2");
const green = ansi("32");
const blue = ansi("34");
const red = ansi("31");

const hhmm = (ms: number): string => {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
};

/** "online", "last seen 14:03" (today) or "last seen 2026-03-01 14:03". */
export function presenceLine(presence: PresenceView | undefined, nowMs: number): string {
  if (!presence) return "";
  if (presence.online) return "online";
  if (presence.lastSeenMs <= 0) return "";
  const sameDay = new Date(presence.lastSeenMs).toDateString() === new Date(nowMs).toDateString();
  const d = new Date(presence.lastSeenMs);
  const day = sameDay ? "" : `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")} `;
  return `last seen ${day}${hhmm(presence.lastSeenMs)}`;
}

/** Ticks as text: the symbol plus the word, so the state reads without colour too. */
export function tickText(tick: Tick, color: boolean): string {
  switch (tick) {
    case "pending":
      return dim(color, "… pending");
    case "sent":
      return "✓ sent";
    case "delivered":
      return "✓✓ delivered";
    case "read":
      return blue(color, "✓✓ read");
    case "failed":
      return red(color, "! not sent");
  }
}

function connectionLine(state: ConnectionState, color: boolean): string {
  if (state === "live") return green(color, "● live");
  if (state === "connecting" || state === "syncing") return "○ connecting…";
  return red(color, "○ offline: messages wait in the outbox until the connection returns");
}

function listView(input: ScreenInput): string[] {
  const { client, color } = input;
  const conversations = client.conversations();
  const lines = [bold(color, "Conversations")];
  if (conversations.length === 0) lines.push("  (none yet: /new <user name> starts one)");
  conversations.forEach((c, i) => {
    const presence = client.presence(c.peerUserId);
    const dot = presence?.online ? green(color, "●") : dim(color, "○");
    const unread = c.unreadCount > 0 ? bold(color, ` (${c.unreadCount} unread)`) : "";
    const typing = input.typing.has(c.conversationId);
    const last = c.lastMessage;
    const preview = typing
      ? "typing…"
      : last
        ? `${hhmm(last.sentAtMs)} ${last.senderUserId === client.userId ? "you" : c.peerUsername}: ${last.text}`
        : presenceLine(presence, input.nowMs);
    lines.push(`  ${i + 1}. ${dot} ${c.peerUsername || "?"}${unread}  ${dim(color, preview)}`);
  });
  lines.push("", dim(color, "<number> or /open <name> opens a chat · /new <user> · /quit"));
  return lines;
}

function chatView(input: ScreenInput, conversationId: string): string[] {
  const { client, color } = input;
  const view = client.conversation(conversationId);
  const peer = view?.peerUsername || "?";
  const status = input.typing.has(conversationId) ? "typing…" : presenceLine(client.presence(view?.peerUserId ?? ""), input.nowMs);
  const messages = client.messages(conversationId);
  const room = Math.max(3, input.rows - 7);
  const shown = messages.slice(-room);
  const lines = [`${bold(color, peer)}  ${dim(color, status)}`];
  if (messages.length > shown.length || view?.hasOlder) lines.push(dim(color, "  … older messages: /older"));
  for (const m of shown) {
    const time = m.sentAtMs ? hhmm(m.sentAtMs) : "--:--";
    const who = m.own ? "you" : peer;
    const tick = m.own && m.tick ? `  ${tickText(m.tick, color)}` : "";
    lines.push(`  [${time}] ${who}: ${m.text}${tick}`);
  }
  if (messages.length === 0) lines.push("  (no messages yet)");
  lines.push("", dim(color, "type a message and Enter to send · /back · /older · /quit"));
  return lines;
}

/** One full frame, top to bottom. */
export function renderScreen(input: ScreenInput): string[] {
  const header = `${bold(input.color, "chat")} · ${input.username}   ${connectionLine(input.connection, input.color)}`;
  const body = input.view.kind === "list" ? listView(input) : chatView(input, input.view.conversationId);
  return [header, "", ...body, ...(input.notice ? [input.notice] : [])];
}
