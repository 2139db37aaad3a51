import { afterAll, beforeAll, expect, test } from "bun:test";
import { describeWhenAvailable } from "../../internal/testkit/index.ts";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedServer, type RunningServer } from "../../internal/app/index.ts";
import { openSdkDevice, type SdkDevice } from "../../internal/app/e2e/sdk-device.ts";

/**
 * The terminal client driven in tmux like a person would: keys in,
 * capture-pane out. Alice uses the CLI, bob an SDK device. Every wait polls
 * the screen with a deadline.
 */
const TMUX = "/usr/bin/tmux";
const WAIT_MS = 20_000;
const REPO = join(import.meta.dir, "..", "..");

function tmux(socket: string, ...args: string[]): string {
  const result = Bun.spawnSync([TMUX, "-L", socket, ...args], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`tmux ${args[0]} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** A terminal running the CLI in a private tmux server. */
function startCli(socket: string, args: readonly string[]) {
  const command = [process.execPath, "cmd/chat/main.ts", ...args].map((a) => `'${a}'`).join(" ");
  // `; sleep` keeps the pane (and its last screen) after the client exits.
  tmux(socket, "new-session", "-d", "-s", "cli", "-x", "110", "-y", "40", "-c", REPO, `${command}; echo "[exited $?]"; sleep 600`);
  const screen = (): string => tmux(socket, "capture-pane", "-p", "-t", "cli");
  return {
    screen,
    keys: (text: string) => void tmux(socket, "send-keys", "-t", "cli", "-l", text),
    enter: () => void tmux(socket, "send-keys", "-t", "cli", "Enter"),
    line(text: string) {
      this.keys(text);
      this.enter();
    },
    async waitFor(pattern: RegExp, what = pattern.source): Promise<string> {
      const deadline = Date.now() + WAIT_MS;
      let last = "";
      while (Date.now() < deadline) {
        last = screen();
        if (pattern.test(last)) return last;
        await Bun.sleep(100);
      }
      throw new Error(`terminal never showed ${what} within ${WAIT_MS} ms; screen:\n${last}`);
    },
    kill: () => void tmux(socket, "kill-session", "-t", "cli"),
  };
}

/** The id of the one conversation an SDK device has, once it knows it. */
async function onlyConversation(device: SdkDevice): Promise<string> {
  await device.client.waitFor(() => device.client.conversations().length === 1, WAIT_MS, "the conversation is known");
  return device.client.conversations()[0]!.conversationId;
}

const describeWithTmux = (title: string, body: () => void) =>
  describeWhenAvailable(title, existsSync(TMUX) ? undefined : `needs ${TMUX} (run scripts/ensure-chromium.sh)`, body);

describeWithTmux("terminal client in tmux", () => {
  const socket = `chat-cli-test-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), "chat-cli-"));
  const db = join(dir, "alice.sqlite");
  let server: RunningServer;
  let bob: SdkDevice | undefined;

  beforeAll(async () => {
    server = await startEmbeddedServer({ presence: { graceMs: 300 } });
    bob = await openSdkDevice(server.url, "bob");
  }, 30_000);
  afterAll(async () => {
    Bun.spawnSync([TMUX, "-L", socket, "kill-server"]);
    await bob?.stop();
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("logs in, sends, sees ticks move to read, the peer's reply, typing and presence", async () => {
    const cli = startCli(socket, ["--server", server.url, "--user", "alice", "--password", "password-1", "--register", "--db", db]);
    await cli.waitFor(/Conversations[\s\S]*none yet/);
    await cli.waitFor(/● live/);
    cli.line("/new bob");
    await cli.waitFor(/^bob {2}online$/m, "bob's chat with him online");

    cli.line("hello from the terminal");
    // Bob's device stores (acks) it at once: delivered; reading is his own act.
    await cli.waitFor(/you: hello from the terminal {2}✓✓ delivered/);
    const conversation = await onlyConversation(bob!);
    bob!.client.markRead(conversation);
    await cli.waitFor(/you: hello from the terminal {2}✓✓ read/);

    bob!.client.setTyping(conversation, true);
    await cli.waitFor(/^bob {2}typing…$/m);
    await bob!.client.send(conversation, "hi terminal");
    await cli.waitFor(/bob: hi terminal/);
    await cli.waitFor(/^bob {2}online$/m, "typing cleared by bob's message");
    // Alice has the chat open: she read it, and bob's device sees that.
    const sent = bob!.client.messages(conversation).find((m) => m.text === "hi terminal")!;
    await bob!.client.waitFor(() => bob!.client.messageState(conversation, sent.clientMsgId) === "read", WAIT_MS, "bob's tick read");

    await bob!.stop();
    bob = undefined;
    await cli.waitFor(/^bob {2}last seen \d\d:\d\d$/m);
    cli.line("/quit");
    await cli.waitFor(/\[exited 0\]/);
    cli.kill();
  }, 90_000);

  test("restarts from its SQLite file while the server is down, composes offline, and delivers once when it returns", async () => {
    const { port } = server;
    const dataDir = server.config.dataDir;
    await server.stop();

    // No password: the saved token starts the client without the network.
    const cli = startCli(socket, ["--server", server.url, "--user", "alice", "--db", db]);
    await cli.waitFor(/○ (offline|connecting)/);
    await cli.waitFor(/1\. . bob {2}\d\d:\d\d bob: hi terminal/, "the list from the local file");
    cli.line("1");
    await cli.waitFor(/you: hello from the terminal {2}✓✓ read[\s\S]*bob: hi terminal/, "history from the local file");
    cli.line("written while offline");
    await cli.waitFor(/you: written while offline {2}… pending/);

    server = await startEmbeddedServer({ port, dataDir, presence: { graceMs: 300 } });
    bob = await openSdkDevice(server.url, "bob");
    await cli.waitFor(/● live/);
    await cli.waitFor(/you: written while offline {2}✓✓ (delivered|read)/);
    const conversation = await onlyConversation(bob);
    await bob.client.waitFor(
      () => bob!.client.messages(conversation).some((m) => m.text === "written while offline"),
      WAIT_MS,
      "bob holds the offline message",
    );
    const texts = bob.client.messages(conversation).map((m) => m.text);
    expect(texts).toEqual(["hello from the terminal", "hi terminal", "written while offline"]);
    cli.line("/quit");
    await cli.waitFor(/\[exited 0\]/);
  }, 90_000);
});
