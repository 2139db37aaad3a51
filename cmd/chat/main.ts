/**
 * Terminal chat client: `bun cmd/chat/main.ts --user alice [--register]
 * [--password ...] [--server http://127.0.0.1:8080] [--db file]`.
 *
 * A native device over gRPC (the SDK's bidi mode) whose outbox, messages
 * and cursors live in a local SQLite file, so it starts, composes and shows
 * history while offline and resumes where it stood after a restart.
 */
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import readline from "node:readline/promises";
import { parseArgs } from "node:util";
import { createChatClient } from "../../internal/client/index.ts";
import { createNativeTransport } from "../../internal/client/node/index.ts";
import { createSqliteStorage } from "../../internal/client/sqlite/index.ts";
import { forgetToken, signIn } from "./sign-in.ts";
import { runTerminalApp } from "./terminal-app.ts";

const usage = `usage: bun cmd/chat/main.ts --user <name> [options]
  --user <name>       account to use (or CHAT_USER)
  --password <pw>     password (or CHAT_PASSWORD; asked when needed)
  --register          create the account first
  --server <url>      gateway URL (or CHAT_SERVER; default http://127.0.0.1:8080)
  --db <file>         local database (or CHAT_DB; default ~/.local/share/chat-cli/<user>.sqlite)`;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    user: { type: "string" },
    password: { type: "string" },
    register: { type: "boolean", default: false },
    server: { type: "string" },
    db: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

async function ask(question: string): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

const username = values.user ?? process.env.CHAT_USER ?? (await ask("User name: "));
if (!username) {
  console.error(usage);
  process.exit(2);
}
const server = values.server ?? process.env.CHAT_SERVER ?? "http://127.0.0.1:8080";
const dbPath = values.db ?? process.env.CHAT_DB ?? join(homedir(), ".local", "share", "chat-cli", `${username}.sqlite`);
mkdirSync(dirname(dbPath), { recursive: true });

const transport = createNativeTransport(server);
const storage = createSqliteStorage({ path: dbPath });
let exitCode = 0;
try {
  const password = values.password ?? process.env.CHAT_PASSWORD;
  const me = await signIn(transport, storage, {
    username,
    register: values.register,
    ask,
    ...(password === undefined ? {} : { password }),
  });
  const client = await createChatClient(
    // Reconnect within 10 s at worst: someone is watching this terminal.
    { userId: me.userId, token: me.token, mode: "bidi", clientInfo: "cli/0.1", backoff: { baseMs: 250, maxMs: 10_000 } },
    { transport, storage },
  );
  await runTerminalApp({
    client,
    username: me.username,
    input: process.stdin,
    output: process.stdout,
    onTokenRefused: () => forgetToken(storage),
  });
} catch (err) {
  console.error(`chat: ${err instanceof Error ? err.message : String(err)}`);
  exitCode = 1;
} finally {
  await storage.close();
}
process.exit(exitCode);
