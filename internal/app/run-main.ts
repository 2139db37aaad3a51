import pino from "pino";
import { ConfigError, flagsToEnv, loadConfig } from "../config/index.ts";
import { createApp, type Role } from "./node.ts";

/**
 * Body of every `cmd/*` process: config from the environment and --flags,
 * the roles wired by createApp, and signal handling. SIGTERM/SIGINT drain
 * (a second signal exits at once; a hard deadline backs the drain up).
 */
export async function runMain(name: string, roles: readonly Role[]): Promise<void> {
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
  const logger = pino({ level: config.logLevel }).child({ process: name });
  const app = await createApp(config, roles, { logger });
  const addr = await app.listen();
  const b = config.backends;
  if (addr) {
    console.log(`${name} listening on http://${addr.address}:${addr.port} (gRPC, gRPC-Web, Connect); log=${b.logUrl} store=${b.storeUrl} routing=${b.redisUrl}`);
  } else {
    console.log(`${name} running (${roles.join(", ")}); log=${b.logUrl} store=${b.storeUrl} routing=${b.redisUrl}`);
  }
  const stop = new AbortController();
  let signals = 0;
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      if (++signals > 1) process.exit(1);
      logger.info({ signal: sig }, "shutting down");
      stop.abort();
      setTimeout(() => process.exit(1), config.gateway.drainTimeoutMs + 15_000).unref();
    });
  }
  await app.run(stop.signal);
  process.exit(0);
}
