import pino from "pino";
import { createEmbeddedApp } from "../../internal/app/index.ts";
import { ConfigError, flagsToEnv, loadConfig } from "../../internal/config/index.ts";

/**
 * `npm start`: every role in one process on the embedded backends (no
 * external services). Configuration from the environment and --flags; see
 * README. SIGTERM/SIGINT drain streams (clients reconnect) and stop cleanly.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig({ ...process.env, ...flagsToEnv(process.argv.slice(2)) });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = pino({ level: config.logLevel });
  const app = createEmbeddedApp(config, { logger });
  const addr = await app.listen();
  console.log(`chat server listening on http://${addr.address}:${addr.port} (gRPC, gRPC-Web, Connect) data in ${config.dataDir}`);
  const stop = new AbortController();
  let signals = 0;
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      if (++signals > 1) process.exit(1); // second signal: do not wait for the drain
      logger.info({ signal: sig }, "shutting down");
      stop.abort();
      // Hard deadline in case something refuses to close.
      setTimeout(() => process.exit(1), config.gateway.drainTimeoutMs + 10_000).unref();
    });
  }
  await app.run(stop.signal);
  process.exit(0);
}

await main();
