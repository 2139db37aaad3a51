import { startEmbeddedServer, type RunningServer } from "../app/index.ts";

/** Server settings the checker needs besides the defaults of the embedded test server. */
export interface ServerHandleConfig {
  readonly dataDir: string;
  /** Short, so a blackholed stream is detected (3 intervals) within the run. */
  readonly heartbeatIntervalMs: number;
}

/** The embedded server, restartable in place (same data directory, same port). */
export interface ServerHandle {
  readonly url: string;
  readonly port: number;
  isUp(): boolean;
  /** Stops (drains), stays down for `downMs`, and starts again on the same data and port. */
  restart(downMs: number): Promise<void>;
  /** Kills the server with no drain (SIGKILL) and starts it again; only a server in its own process can. */
  crash?(downMs: number): Promise<void>;
  /** Starts the server again if a restart left it down. */
  ensureUp(): Promise<void>;
  stop(): Promise<void>;
}

const startAttempts = 50;
const startRetryMs = 100;

/** Starts the embedded server on 127.0.0.1 and a free port. */
export async function startServerHandle(cfg: ServerHandleConfig): Promise<ServerHandle> {
  const overrides = (port: number) => ({
    dataDir: cfg.dataDir,
    port,
    gateway: { heartbeatIntervalMs: cfg.heartbeatIntervalMs, idleTimeoutMs: cfg.heartbeatIntervalMs * 3 },
  });
  let current: RunningServer | undefined = await startEmbeddedServer(overrides(0));
  const port = current.port;

  const startAgain = async (): Promise<void> => {
    let lastError: unknown;
    // The old listener's port can take a moment to be free again.
    for (let attempt = 0; attempt < startAttempts; attempt++) {
      try {
        current = await startEmbeddedServer(overrides(port));
        return;
      } catch (err) {
        lastError = err;
        await Bun.sleep(startRetryMs);
      }
    }
    throw new Error(`server did not restart on port ${port}: ${String(lastError)}`);
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    isUp: () => current !== undefined,
    async restart(downMs) {
      const running = current;
      if (!running) return startAgain();
      current = undefined;
      await running.stop();
      await Bun.sleep(downMs);
      await startAgain();
    },
    async ensureUp() {
      if (!current) await startAgain();
    },
    async stop() {
      const running = current;
      current = undefined;
      await running?.stop();
    },
  };
}
