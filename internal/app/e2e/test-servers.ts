import { afterAll, beforeAll, describe } from "bun:test";
import pino from "pino";
import type { Config, DeepPartial } from "../../config/index.ts";
import { createCassandraStore, parseCassandraUrl } from "../../store/cassandra/index.ts";
import type { MessageStore } from "../../store/index.ts";
import { createSqliteStore } from "../../store/sqlite/index.ts";
import { describeWithBackends, realBackends } from "../../testkit/index.ts";
import { startTestCluster, type ClusterProcess, type TestCluster } from "../cluster/index.ts";
import { startEmbeddedServer, type RunningServer } from "../index.ts";

/** How a scenario runs: one process on the embedded backends, or gateway and worker processes on Kafka/Cassandra/Redis. */
export type TestMode = "embedded" | "distributed";

/** A running server in either mode; scenario tests talk to it only through `url` (the public API). */
export interface TestServer {
  readonly mode: TestMode;
  /** The (first) gateway's public URL. Stable across `restart`. */
  readonly url: string;
  readonly port: number;
  /** Every gateway's URL (one in embedded mode). */
  readonly urls: readonly string[];
  /** The token signing key the server uses (to forge, expire or tamper with tokens in tests). */
  readonly authSecret: string;
  /** The in-process server (embedded mode only): for checks of its internals, such as the session hub. */
  readonly embedded: RunningServer | undefined;
  /** The processes (distributed mode only). */
  readonly cluster: TestCluster | undefined;
  /**
   * Stops every process gracefully (gateways drain, workers commit), runs
   * `whileDown`, then starts them again on the same data and ports.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** Opens the store the server writes (SQLite file or Cassandra keyspace), through the store port. Close it after use. */
  openStore(): Promise<MessageStore>;
  /** Stops everything and removes the data (temp dir, or topic, keyspace and key prefix). */
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Distributed mode only: process counts (default 1 gateway + 1 worker). */
  readonly gateways?: number;
  readonly workers?: number;
}

/** Cluster start and stop take seconds (topic, keyspace, processes): hooks need more than the default timeout. */
export const START_TIMEOUT_MS = 90_000;
export const STOP_TIMEOUT_MS = 60_000;

/** Config path -> the environment variable a `cmd/gateway` or `cmd/worker` process reads it from (internal/config). */
type ConfigPath = {
  [K in keyof Config & string]: Config[K] extends object ? `${K}.${keyof Config[K] & string}` : K;
}[keyof Config & string];

/**
 * The overrides a distributed test server can pass on. Fields the cluster
 * owns (host, port, ids, data dir, backend URLs, push endpoint, worker group)
 * are absent on purpose: overriding them throws.
 */
export const OVERRIDE_ENV: Partial<Record<ConfigPath, string>> = {
  "gateway.maxBodyBytes": "MAX_BODY_BYTES",
  "gateway.sendRatePerSec": "SEND_RATE_PER_SEC",
  "gateway.sendBurst": "SEND_BURST",
  "gateway.outboundQueueLimit": "OUTBOUND_QUEUE_LIMIT",
  "gateway.heartbeatIntervalMs": "HEARTBEAT_INTERVAL_MS",
  "gateway.idleTimeoutMs": "IDLE_TIMEOUT_MS",
  "gateway.routeTtlMs": "ROUTE_TTL_MS",
  "gateway.recentWindow": "RECENT_WINDOW",
  "gateway.maxCatchUpPerConversation": "MAX_CATCH_UP_PER_CONVERSATION",
  "gateway.catchUpConcurrency": "CATCH_UP_CONCURRENCY",
  "gateway.maxConnections": "MAX_CONNECTIONS",
  "gateway.drainTimeoutMs": "DRAIN_TIMEOUT_MS",
  "gateway.reconnectDelayMs": "RECONNECT_DELAY_MS",
  "gateway.streamPath": "STREAM_PATH",
  "presence.graceMs": "PRESENCE_GRACE_MS",
  "presence.holdTtlMs": "PRESENCE_TTL_MS",
  "presence.refreshIntervalMs": "PRESENCE_REFRESH_MS",
  "presence.fanoutIntervalMs": "PRESENCE_FANOUT_MS",
  "auth.secret": "AUTH_SECRET",
  "auth.tokenTtlMs": "TOKEN_TTL_MS",
  logLevel: "LOG_LEVEL",
};

/** The same test defaults startEmbeddedServer applies, so both modes run one scenario under one configuration. */
const DISTRIBUTED_DEFAULTS: DeepPartial<Config> = { presence: { graceMs: 300, fanoutIntervalMs: 20 } };

/**
 * Turns config overrides into process environment variables; throws listing
 * every override without a variable, so nothing is silently ignored.
 */
export function overridesToEnv(overrides: DeepPartial<Config>): Record<string, string> {
  const env: Record<string, string> = {};
  const unmapped: string[] = [];
  const walk = (o: object, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (v === undefined) continue;
      const path = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === "object") {
        walk(v, path);
        continue;
      }
      const name = OVERRIDE_ENV[path as ConfigPath];
      if (name) env[name] = String(v);
      else unmapped.push(path);
    }
  };
  walk(overrides, "");
  if (unmapped.length > 0) {
    throw new Error(`no environment variable for override(s) ${unmapped.join(", ")}: add them to OVERRIDE_ENV or drop them`);
  }
  return env;
}

/**
 * Starts a server for scenario tests. Embedded: startEmbeddedServer in this
 * process. Distributed: a TestCluster (1 gateway + 1 worker unless `opts`
 * says otherwise) on the CHAT_TEST_* backends, with `overrides` passed as
 * environment variables.
 */
export async function startTestServer(
  mode: TestMode,
  overrides: DeepPartial<Config> = {},
  opts: TestServerOptions = {},
): Promise<TestServer> {
  return mode === "embedded" ? startEmbedded(overrides) : startDistributed(overrides, opts);
}

async function startEmbedded(overrides: DeepPartial<Config>): Promise<TestServer> {
  let server = await startEmbeddedServer(overrides);
  const { port, config } = server;
  return {
    mode: "embedded",
    url: server.url,
    port,
    urls: [server.url],
    authSecret: config.auth.secret!,
    get embedded() {
      return server;
    },
    cluster: undefined,
    async restart(whileDown) {
      await server.stop();
      await whileDown?.();
      server = await startEmbeddedServer({ ...overrides, dataDir: config.dataDir, port });
    },
    async openStore() {
      return createSqliteStore({ path: `${config.dataDir}/store.db` });
    },
    stop: () => server.destroy(),
  };
}

async function startDistributed(overrides: DeepPartial<Config>, opts: TestServerOptions): Promise<TestServer> {
  // Validate before paying for a cluster.
  const env = { ...overridesToEnv(DISTRIBUTED_DEFAULTS), ...overridesToEnv(overrides) };
  const { kafka, cassandra, redis } = realBackends();
  if (!kafka || !cassandra || !redis) {
    throw new Error("distributed mode needs CHAT_TEST_KAFKA, CHAT_TEST_CASSANDRA and CHAT_TEST_REDIS (use describeEachMode)");
  }
  const cluster = await startTestCluster({ kafka, cassandra, redis }, { gateways: opts.gateways ?? 1, workers: opts.workers ?? 1, env });
  const first = cluster.gateways[0]!;
  return {
    mode: "distributed",
    url: first.url,
    port: first.port,
    urls: cluster.gateways.map((g) => g.url),
    authSecret: cluster.env.AUTH_SECRET!,
    embedded: undefined,
    cluster,
    async restart(whileDown) {
      // Gateways first: they drain their streams (clients told to reconnect) while workers still commit.
      for (const group of [cluster.gateways, cluster.workers]) {
        for (const p of group) p.kill("SIGTERM");
        await Promise.all(group.map((p) => p.exited));
      }
      await whileDown?.();
      // Workers first, as at start: the consumer group forms while the gateways boot.
      for (const group of [cluster.workers, cluster.gateways]) {
        await Promise.all(group.map(async (p) => {
          const before = readyLines(p);
          await p.restart();
          await untilReadyAgain(p, before);
        }));
      }
    },
    async openStore() {
      return createCassandraStore(parseCassandraUrl(cluster.env.STORE_URL!), { logger: pino({ level: "silent" }) });
    },
    stop: () => cluster.destroy(),
  };
}

/** How many times the process said it was ready (its output spans every run). */
const readyLines = (p: ClusterProcess) => p.output().match(/listening on http:|running \(worker\)/g)?.length ?? 0;

/**
 * ClusterProcess.restart() matches its ready line against the output of every
 * run so far, so it resolves on the previous run's line: wait for a new one.
 */
async function untilReadyAgain(p: ClusterProcess, before: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (readyLines(p) <= before) {
    if (Date.now() > deadline) throw new Error(`${p.name} not ready again after 30 s:\n${p.output()}`);
    await Bun.sleep(20);
  }
}

/**
 * Runs `body` once per mode: embedded always; distributed through
 * describeWithBackends, so it is skipped locally without the CHAT_TEST_*
 * backends and fails in CI. The mode is in the describe title.
 */
export function describeEachMode(title: string, body: (mode: TestMode) => void): void {
  describe(`${title} [embedded]`, () => body("embedded"));
  describeWithBackends(`${title} [distributed: gateway and worker processes]`, ["kafka", "cassandra", "redis"], () =>
    body("distributed"),
  );
}

/**
 * One server for the enclosing describe block (beforeAll/afterAll), shared by
 * its tests: a cluster costs seconds to start. Returns an accessor valid
 * inside tests and hooks.
 */
export function useTestServer(
  mode: TestMode,
  overrides: DeepPartial<Config> = {},
  opts: TestServerOptions = {},
): () => TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(mode, overrides, opts);
  }, START_TIMEOUT_MS);
  afterAll(() => server?.stop(), STOP_TIMEOUT_MS);
  return () => {
    if (!server) throw new Error("the test server is not started (use it inside tests and hooks)");
    return server;
  };
}
