import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import { freePort } from "../testkit/index.ts";
import type { ServerHandle, ServerHandleConfig } from "./server-handle.ts";

// Spawned, never imported: the checker runs `npm start`'s entry point as a separate process.
const serverEntry = fileURLToPath(new URL("../../cmd/server/main.ts", import.meta.url));
const readyWithinMs = 20_000;
const readyPollMs = 50;

/**
 * The embedded server as its own process (`cmd/server`), so it can also be
 * killed with SIGKILL: a crash with no drain, no final commit, and SQLite
 * files left mid-transaction, which an in-process stop cannot simulate.
 */
export async function startProcessServer(cfg: ServerHandleConfig): Promise<ServerHandle & { crash(downMs: number): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(port),
    DATA_DIR: cfg.dataDir,
    LOG_LEVEL: process.env.CHECK_SERVER_LOG_LEVEL ?? "silent",
    LOG_PARTITIONS: "4",
    HEARTBEAT_INTERVAL_MS: String(cfg.heartbeatIntervalMs),
    IDLE_TIMEOUT_MS: String(cfg.heartbeatIntervalMs * 3),
    DRAIN_TIMEOUT_MS: "2000",
    AUTH_SECRET: "checker-secret-checker-secret-0123456789",
  };
  let child: Subprocess | undefined;

  const ready = async (): Promise<void> => {
    for (let waited = 0; waited < readyWithinMs; waited += readyPollMs) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error(`server process exited with ${child.exitCode}`);
      const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (ok) return;
      await Bun.sleep(readyPollMs);
    }
    throw new Error(`server process not ready on ${url} within ${readyWithinMs} ms`);
  };
  const start = async (): Promise<void> => {
    // The old process's port can take a moment to be free again: a failed start is retried.
    for (let attempt = 0; ; attempt++) {
      child = Bun.spawn([process.execPath, serverEntry], { env, stdout: "ignore", stderr: "inherit" });
      try {
        return await ready();
      } catch (err) {
        child.kill("SIGKILL");
        await child.exited;
        child = undefined;
        if (attempt >= 5) throw err;
      }
    }
  };
  const end = async (signal: "SIGTERM" | "SIGKILL"): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running) return;
    running.kill(signal);
    await running.exited;
  };

  await start();
  return {
    url,
    port,
    isUp: () => child !== undefined,
    async restart(downMs) {
      await end("SIGTERM");
      await Bun.sleep(downMs);
      await start();
    },
    async crash(downMs) {
      await end("SIGKILL");
      await Bun.sleep(downMs);
      await start();
    },
    async ensureUp() {
      if (!child) await start();
    },
    stop: () => end("SIGTERM"),
  };
}
