import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig, type Config, type DeepPartial } from "../config/index.ts";
import { createApp, type App } from "./node.ts";

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly config: Config;
  readonly app: App;
  /** Drains and stops the server; keeps the data directory. */
  stop(): Promise<void>;
  /** Stops and deletes the data directory. */
  destroy(): Promise<void>;
}

/**
 * Starts the embedded server on 127.0.0.1 and a free port, with its data in a
 * fresh temp directory (or `dataDir`, to restart on the same data). For tests,
 * the SDK's integration tests and benchmarks.
 */
export async function startEmbeddedServer(
  overrides: DeepPartial<Config> & { port?: number } = {},
): Promise<RunningServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), "chat-test-"));
  const config = loadConfig(
    {},
    {
      logPartitions: 4,
      logLevel: process.env.TEST_LOG_LEVEL ?? "silent",
      auth: { secret: "test-secret-test-secret-test-secret-0123" },
      ...overrides,
      dataDir,
      gateway: { host: "127.0.0.1", port: overrides.port ?? 0, drainTimeoutMs: 2_000, ...overrides.gateway },
      presence: { graceMs: 300, fanoutIntervalMs: 20, ...overrides.presence },
    },
  );
  const app = await createApp(config, ["gateway", "worker"], { logger: pino({ level: config.logLevel }) });
  const addr = (await app.listen())!;
  const stopper = new AbortController();
  const running = app.run(stopper.signal);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= (stopper.abort(), running));
  return {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    config,
    app,
    stop,
    async destroy() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
