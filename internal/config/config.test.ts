import { expect, test } from "bun:test";
import { ConfigError, flagsToEnv, loadConfig } from "./config.ts";

test("defaults give the embedded single-process setup on port 8080 with data in ./data", () => {
  const c = loadConfig({});
  expect(c.gateway.port).toBe(8080);
  expect(c.dataDir).toBe("./data");
  expect(c.backends).toEqual({ logUrl: "embedded:./data/log.db", storeUrl: "sqlite:./data/store.db", redisUrl: "memory:", sqliteCommitIntervalMs: 2, sqliteCheckpointIntervalMs: 200 });
  expect(Object.isFrozen(c.gateway)).toBe(true);
});

test("flags become variables and win over the environment", () => {
  const env = { PORT: "1", ...flagsToEnv(["--port=9000", "--data-dir=/x", "ignored", "--log-url=kafka://h:1"]) };
  const c = loadConfig(env);
  expect(c.gateway.port).toBe(9000);
  expect(c.dataDir).toBe("/x");
  expect(c.backends.logUrl).toBe("kafka://h:1");
  expect(c.backends.storeUrl).toBe("sqlite:/x/store.db");
});

test("every problem is reported at once", () => {
  let err: unknown;
  try {
    loadConfig({ PORT: "70000", LOG_PARTITIONS: "x", AUTH_SECRET: "short", STORE_URL: "mysql://x", HEARTBEAT_INTERVAL_MS: "1000", IDLE_TIMEOUT_MS: "500" });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const problems = (err as ConfigError).problems.join("\n");
  for (const name of ["PORT", "LOG_PARTITIONS", "AUTH_SECRET", "STORE_URL", "IDLE_TIMEOUT_MS"]) expect(problems).toContain(name);
});
