import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

/**
 * A redis-server of one's own on a free 127.0.0.1 port, without persistence
 * (no RDB, no AOF): unlike the shared Redis, a test may kill it, and it
 * comes back empty, as a Redis restarted without persistence or failed over
 * to an empty replica does.
 */
export interface PrivateRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>/0` */
  readonly url: string;
  /** The current server process (changes on restart). */
  readonly pid: number;
  /** True from a start until a kill. */
  readonly running: boolean;
  /** SIGKILL: no shutdown, no save. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port, with no data; resolves once it answers PING. */
  restart(): Promise<void>;
  /** Kills it for good and removes its directory. */
  stop(): Promise<void>;
}

/** The redis-server binary on PATH, or undefined (scripts/infra/services.sh installs it). */
export function redisServerBinary(): string | undefined {
  return Bun.which("redis-server") ?? undefined;
}

const readyTimeoutMs = 10_000;
const portAttempts = 5;

/** Starts a private redis-server; throws when the binary is missing or it does not answer within 10 s. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const binary = redisServerBinary();
  if (!binary) throw new Error("redis-server is not on PATH (scripts/infra/services.sh up redis installs it)");
  const dir = mkdtempSync(join(tmpdir(), "private-redis-"));
  let child: ReturnType<typeof Bun.spawn> | undefined;
  let running = false;
  // A test process that exits without stop() must not leave a server behind.
  const onExit = () => child?.kill("SIGKILL");
  process.once("exit", onExit);

  const launch = async (port: number): Promise<boolean> => {
    child = Bun.spawn(
      [binary, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"],
      { stdout: "ignore", stderr: "ignore", stdin: "ignore" },
    );
    running = await answersPing(port, child.exited);
    if (!running) {
      child.kill("SIGKILL");
      await child.exited;
    }
    return running;
  };

  let port = 0;
  for (let attempt = 0; attempt < portAttempts && !running; attempt++) {
    // Another process may take the free port before the server binds it: then try another one.
    port = await freePort();
    await launch(port);
  }
  if (!running) {
    rmSync(dir, { recursive: true, force: true });
    process.off("exit", onExit);
    throw new Error(`redis-server did not start on a free port after ${portAttempts} attempts`);
  }

  const kill = async (): Promise<void> => {
    running = false;
    child?.kill("SIGKILL");
    await child?.exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() {
      return child?.pid ?? 0;
    },
    get running() {
      return running;
    },
    kill,
    async restart() {
      await kill();
      // The same port: clients reconnect to the address they know.
      for (let attempt = 0; attempt < portAttempts; attempt++) if (await launch(port)) return;
      throw new Error(`redis-server did not start again on port ${port}`);
    },
    async stop() {
      await kill();
      process.off("exit", onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls PING every 50 ms until +PONG (true), the process exits or 10 s pass (false). */
async function answersPing(port: number, exited: Promise<number>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + readyTimeoutMs;
  while (!gone && Date.now() < deadline) {
    if (await ping(port)) return true;
    await Bun.sleep(50);
  }
  return false;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (chunk) => done(chunk.toString().startsWith("+PONG")));
  });
}
