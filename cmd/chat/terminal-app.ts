import { ConnectError } from "@connectrpc/connect";
import readline from "node:readline";
import type { ChatClient, ChatEvent, ConnectionState } from "../../internal/client/index.ts";
import { renderScreen, type View } from "./screen.ts";

/** What the terminal app runs on. */
export interface TerminalAppDeps {
  readonly client: ChatClient;
  readonly username: string;
  readonly input: NodeJS.ReadStream;
  readonly output: NodeJS.WriteStream;
  /** The server refused the token: forget it so the next start asks for the password. */
  readonly onTokenRefused: () => Promise<void>;
}

const REDRAW_DELAY_MS = 30;
const TYPING_RESEND_MS = 3_000;
const TYPING_IDLE_MS = 4_000;
const PEER_TYPING_TTL_MS = 8_000;

/**
 * The line-oriented terminal client: a full redraw of the current view
 * after every change, the prompt (and what is typed so far) kept below it.
 * Runs the chat client until /quit or end of input.
 */
export async function runTerminalApp(deps: TerminalAppDeps): Promise<void> {
  const { client, output } = deps;
  const tty = Boolean(output.isTTY);
  const rl = readline.createInterface({ input: deps.input, output, terminal: tty, prompt: "> " });
  const stop = new AbortController();
  const peerTyping = new Map<string, ReturnType<typeof setTimeout>>();
  let view: View = { kind: "list" };
  let notice = "";
  let connection: ConnectionState = client.connectionState();
  let redrawTimer: ReturnType<typeof setTimeout> | undefined;
  let typingSentAt = 0;
  let typingIdle: ReturnType<typeof setTimeout> | undefined;

  const redraw = (): void => {
    redrawTimer = undefined;
    const lines = renderScreen({
      client,
      username: deps.username,
      view,
      connection,
      typing: new Set(peerTyping.keys()),
      notice,
      nowMs: Date.now(),
      rows: output.rows ?? 24,
      color: tty,
    });
    // Clear and draw from the top; prompt(true) puts back the half-typed line.
    output.write(`${tty ? "\x1b[2J\x1b[H" : "\n"}${lines.join("\n")}\n`);
    rl.prompt(true);
  };
  const scheduleRedraw = (): void => {
    redrawTimer ??= setTimeout(redraw, REDRAW_DELAY_MS);
  };
  const openConversation = (): string | undefined => (view.kind === "chat" ? view.conversationId : undefined);
  const markRead = (): void => {
    const id = openConversation();
    if (id && (client.conversation(id)?.unreadCount ?? 0) > 0) client.markRead(id);
  };
  const watchPeers = (): void => client.watchPresence(client.conversations().map((c) => c.peerUserId).filter(Boolean));
  const setPeerTyping = (conversationId: string, typing: boolean): void => {
    clearTimeout(peerTyping.get(conversationId));
    peerTyping.delete(conversationId);
    if (typing) peerTyping.set(conversationId, setTimeout(() => setPeerTyping(conversationId, false), PEER_TYPING_TTL_MS));
    scheduleRedraw();
  };
  const stopTyping = (): void => {
    const id = openConversation();
    clearTimeout(typingIdle);
    if (id && typingSentAt > 0) client.setTyping(id, false);
    typingSentAt = 0;
  };

  const onEvent = (event: ChatEvent): void => {
    if (event.type === "connection") {
      connection = event.state;
      if (event.failure?.code === "unauthenticated") {
        notice = "The server refused the saved token: start again to log in with your password.";
        void deps.onTokenRefused().finally(() => rl.close());
      }
    }
    if (event.type === "conversation" || event.type === "sync-complete") watchPeers();
    if (event.type === "messages" && event.conversationId === openConversation()) markRead();
    if (event.type === "messages") for (const m of event.messages) if (m.senderUserId !== client.userId) setPeerTyping(m.conversationId, false);
    if (event.type === "typing" && event.userId !== client.userId) setPeerTyping(event.conversationId, event.typing);
    scheduleRedraw();
  };

  const open = (conversationId: string): void => {
    stopTyping();
    view = { kind: "chat", conversationId };
    notice = "";
    markRead();
  };
  const find = (what: string): string | undefined => {
    const list = client.conversations();
    const byNumber = /^\d+$/.test(what) ? list[Number(what) - 1] : undefined;
    return (byNumber ?? list.find((c) => c.peerUsername === what))?.conversationId;
  };

  async function command(line: string): Promise<void> {
    const text = line.trim();
    const [verb, ...rest] = text.split(/\s+/);
    const arg = rest.join(" ");
    notice = "";
    if (text === "") return;
    if (verb === "/quit" || verb === "/exit") return void rl.close();
    if (verb === "/back" || verb === "/list") return void ((view = { kind: "list" }), stopTyping());
    if (verb === "/new" || verb === "/chat") {
      if (!arg) return void (notice = "usage: /new <user name>");
      try {
        open((await client.startConversation({ username: arg })).conversationId);
        watchPeers();
      } catch (err) {
        const message = ConnectError.from(err).rawMessage;
        notice = message.includes("RECIPIENT_UNKNOWN") ? `no user named ${arg}` : `cannot start the chat: ${message}`;
      }
      return;
    }
    if (verb === "/open" || (view.kind === "list" && /^\d+$/.test(text))) {
      const id = find(verb === "/open" ? arg : text);
      if (id) open(id);
      else notice = `no conversation ${verb === "/open" ? arg : text}`;
      return;
    }
    const id = openConversation();
    if (verb === "/older") {
      if (!id) return void (notice = "open a chat first");
      const { loaded, hasOlder } = await client.loadOlder(id).catch(() => ({ loaded: -1, hasOlder: true }));
      notice = loaded < 0 ? "cannot load older messages while offline" : `${loaded} older messages${hasOlder ? "" : " (that is all)"}`;
      return;
    }
    if (verb?.startsWith("/")) return void (notice = `unknown command ${verb}`);
    if (!id) return void (notice = "open a chat first: its number, /open <name> or /new <name>");
    stopTyping();
    await client.send(id, text);
  }

  const off = client.on(onEvent);
  // Typing indicator from keystrokes (readline emits keypress events on a TTY).
  const onKeypress = (): void => {
    const id = openConversation();
    if (!id || rl.line.trim() === "") return;
    const now = Date.now();
    if (now - typingSentAt > TYPING_RESEND_MS) {
      client.setTyping(id, true);
      typingSentAt = now;
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
  };
  if (tty) deps.input.on("keypress", onKeypress);
  const running = client.run(stop.signal);
  watchPeers();
  redraw();

  // Lines are handled one at a time, in order, like the user typed them.
  let queue = Promise.resolve();
  rl.on("line", (line) => {
    queue = queue.then(() => command(line)).catch((err: unknown) => void (notice = `error: ${String(err)}`)).then(scheduleRedraw);
  });
  await new Promise<void>((resolve) => rl.once("close", resolve));
  await queue;
  stopTyping();
  deps.input.off("keypress", onKeypress);
  off();
  clearTimeout(redrawTimer);
  for (const timer of peerTyping.values()) clearTimeout(timer);
  stop.abort();
  await running;
}
