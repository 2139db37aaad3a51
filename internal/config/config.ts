/**
 * The one config module: reads the environment (and `--key=value` flags),
 * validates everything, reports every problem at once, and returns a frozen
 * object. Components receive only their slice.
 */
export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly gatewayId: string;
  readonly maxBodyBytes: number;
  readonly sendRatePerSec: number;
  readonly sendBurst: number;
  readonly outboundQueueLimit: number;
  readonly heartbeatIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly routeTtlMs: number;
  readonly recentWindow: number;
  readonly maxCatchUpPerConversation: number;
  /** Catch-ups running at once; more openings wait (after their Welcome) instead of flooding the store. */
  readonly catchUpConcurrency: number;
  readonly maxConnections: number;
  readonly drainTimeoutMs: number;
  readonly reconnectDelayMs: number;
  /**
   * Who serves ChatService.Connect over gRPC: `lean` (grpc-stream-path.ts, the
   * default) or `connect` (connect-es, as every other method and protocol).
   */
  readonly streamPath: "lean" | "connect";
}

export interface PresenceConfig {
  readonly graceMs: number;
  readonly holdTtlMs: number;
  readonly refreshIntervalMs: number;
  readonly fanoutIntervalMs: number;
}

export interface AuthConfig {
  /** HMAC key; when absent a dev key is generated and kept in dataDir. */
  readonly secret: string | undefined;
  readonly tokenTtlMs: number;
}

/** Where the ports' adapters live: chosen by URL scheme (internal/app/backends.ts). */
export interface BackendsConfig {
  /** `embedded:<file>` (default `<dataDir>/log.db`) or `kafka://host:port[,..]?topic=messages&partitions=12`. */
  readonly logUrl: string;
  /** `sqlite:<file>` (default `<dataDir>/store.db`) or `cassandra://host:port[,..]/keyspace?dc=datacenter1`. */
  readonly storeUrl: string;
  /** `memory:` (single process) or `redis://host:port/db`: routing, presence and the gateway registry. */
  readonly redisUrl: string;
  /**
   * Least time between two commits of the embedded log and of the SQLite
   * store (createPacedFlush): under load, writes arriving meanwhile share a
   * commit; an idle process still commits at once.
   */
  readonly sqliteCommitIntervalMs: number;
  /** How often a worker thread checkpoints their WALs (checkpointInBackground); 0: SQLite's own, in the writing thread. */
  readonly sqliteCheckpointIntervalMs: number;
}

/** The gateway's internal push endpoint (distributed mode: workers stream deliveries to it). */
export interface PushConfig {
  readonly host: string;
  /** 0 = any free port; the actual address is announced in the gateway registry. */
  readonly port: number;
  /** Host other processes use to reach this gateway (defaults to `host`). */
  readonly advertiseHost: string;
  readonly registryTtlMs: number;
}

export interface WorkerConfig {
  readonly memberId: string;
  readonly groupId: string;
  /** Topic generation: the high part of every seq (docs/sequencing.md). */
  readonly generation: number;
  /** Health/readiness HTTP port of a worker process (0 = any, -1 = none). */
  readonly httpPort: number;
}

export interface Config {
  readonly dataDir: string;
  readonly backends: BackendsConfig;
  readonly push: PushConfig;
  readonly worker: WorkerConfig;
  readonly logPartitions: number;
  readonly logLevel: string;
  readonly gateway: GatewayConfig;
  readonly presence: PresenceConfig;
  readonly auth: AuthConfig;
}

/** Thrown with the full list of problems. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Source = Record<string, string | undefined>;

/** Turns `--port=9000 --data-dir=/x` into `{ PORT: "9000", DATA_DIR: "/x" }`. */
export function flagsToEnv(argv: readonly string[]): Source {
  const out: Source = {};
  for (const arg of argv) {
    const m = /^--([a-z0-9-]+)=(.*)$/i.exec(arg);
    if (m?.[1] !== undefined) out[m[1].toUpperCase().replaceAll("-", "_")] = m[2];
  }
  return out;
}

/** Builds the config from `env` (flags already merged in); throws ConfigError. */
export function loadConfig(env: Source, overrides: DeepPartial<Config> = {}): Config {
  const problems: string[] = [];
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${raw}: expected an integer in [${min}, ${max}]`);
      return def;
    }
    return n;
  };
  const str = (name: string, def: string): string => env[name] || def;
  /** One of `choices`; the first is the default. */
  const oneOf = <T extends string>(name: string, choices: readonly [T, ...T[]]): T => {
    const raw = env[name];
    if (raw === undefined || raw === "") return choices[0];
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}=${raw}: expected one of ${choices.join(" ")}`);
    return choices[0];
  };

  const heartbeatIntervalMs = int("HEARTBEAT_INTERVAL_MS", 15_000, 100, 600_000);
  const dataDir = overrides.dataDir ?? str("DATA_DIR", "./data");
  const pushHost = str("PUSH_HOST", "127.0.0.1");
  const base: Config = {
    dataDir,
    backends: {
      logUrl: str("LOG_URL", `embedded:${dataDir}/log.db`),
      storeUrl: str("STORE_URL", `sqlite:${dataDir}/store.db`),
      redisUrl: str("REDIS_URL", "memory:"),
      sqliteCommitIntervalMs: int("SQLITE_COMMIT_INTERVAL_MS", 2, 0, 1_000),
      sqliteCheckpointIntervalMs: int("SQLITE_CHECKPOINT_INTERVAL_MS", 200, 0, 60_000),
    },
    push: {
      host: pushHost,
      port: int("PUSH_PORT", 0, 0, 65535),
      advertiseHost: str("PUSH_ADVERTISE_HOST", pushHost),
      registryTtlMs: int("GATEWAY_REGISTRY_TTL_MS", 15_000, 1_000, 3_600_000),
    },
    worker: {
      memberId: str("WORKER_ID", `worker-${process.pid}`),
      groupId: str("WORKER_GROUP", "workers"),
      generation: int("SEQ_GENERATION", 0, 0, 8191),
      httpPort: int("WORKER_HTTP_PORT", -1, -1, 65535),
    },
    logPartitions: int("LOG_PARTITIONS", 12, 1, 4096),
    logLevel: str("LOG_LEVEL", "info"),
    gateway: {
      host: str("HOST", "127.0.0.1"),
      port: int("PORT", 8080, 0, 65535),
      gatewayId: str("GATEWAY_ID", `gw-${process.pid}`),
      maxBodyBytes: int("MAX_BODY_BYTES", 16_384, 1, 1_048_576),
      sendRatePerSec: int("SEND_RATE_PER_SEC", 50, 1, 1_000_000),
      sendBurst: int("SEND_BURST", 200, 1, 1_000_000),
      outboundQueueLimit: int("OUTBOUND_QUEUE_LIMIT", 2_048, 16, 1_000_000),
      heartbeatIntervalMs,
      idleTimeoutMs: int("IDLE_TIMEOUT_MS", heartbeatIntervalMs * 3, 300, 3_600_000),
      routeTtlMs: int("ROUTE_TTL_MS", 120_000, 1_000, 86_400_000),
      recentWindow: int("RECENT_WINDOW", 50, 1, 1_000),
      maxCatchUpPerConversation: int("MAX_CATCH_UP_PER_CONVERSATION", 10_000, 10, 1_000_000),
      catchUpConcurrency: int("CATCH_UP_CONCURRENCY", 256, 1, 100_000),
      maxConnections: int("MAX_CONNECTIONS", 200_000, 1, 10_000_000),
      drainTimeoutMs: int("DRAIN_TIMEOUT_MS", 5_000, 0, 600_000),
      reconnectDelayMs: int("RECONNECT_DELAY_MS", 1_000, 0, 600_000),
      streamPath: oneOf("STREAM_PATH", ["lean", "connect"] as const),
    },
    presence: {
      graceMs: int("PRESENCE_GRACE_MS", 5_000, 0, 3_600_000),
      holdTtlMs: int("PRESENCE_TTL_MS", 60_000, 1_000, 86_400_000),
      refreshIntervalMs: int("PRESENCE_REFRESH_MS", 20_000, 100, 3_600_000),
      fanoutIntervalMs: int("PRESENCE_FANOUT_MS", 100, 1, 60_000),
    },
    auth: {
      secret: env.AUTH_SECRET || undefined,
      tokenTtlMs: int("TOKEN_TTL_MS", 30 * 24 * 3_600_000, 1_000, 365 * 24 * 3_600_000),
    },
  };
  for (const [name, url, schemes] of [
    ["LOG_URL", base.backends.logUrl, ["embedded:", "kafka:"]],
    ["STORE_URL", base.backends.storeUrl, ["sqlite:", "cassandra:"]],
    ["REDIS_URL", base.backends.redisUrl, ["memory:", "redis:"]],
  ] as const) {
    if (!schemes.some((sch) => url.startsWith(sch))) problems.push(`${name}=${url}: expected one of ${schemes.join(" ")}`);
  }
  if (base.auth.secret !== undefined && base.auth.secret.length < 32) {
    problems.push("AUTH_SECRET: must be at least 32 characters");
  }
  if (base.gateway.idleTimeoutMs <= base.gateway.heartbeatIntervalMs) {
    problems.push("IDLE_TIMEOUT_MS: must exceed HEARTBEAT_INTERVAL_MS");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(merge(base, overrides));
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: DeepPartial<T>): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = b !== null && typeof b === "object" && typeof v === "object" ? merge(b, v as never) : v;
  }
  return out as T;
}

function deepFreeze<T>(o: T): T {
  for (const v of Object.values(o as object)) if (v !== null && typeof v === "object") deepFreeze(v);
  return Object.freeze(o);
}
