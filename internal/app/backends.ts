import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config/index.ts";
import type { Clock } from "../domain/index.ts";
import { createEmbeddedLog } from "../log/embedded/index.ts";
import { createKafkaLog, parseKafkaUrl } from "../log/kafka/index.ts";
import type { MessageLog } from "../log/index.ts";
import { createMemoryPresenceStore } from "../presence/memory/index.ts";
import { createRedisPresenceStore } from "../presence/redis/index.ts";
import type { PresenceStore } from "../presence/index.ts";
import { createMemoryGatewayRegistry, createMemoryRoutingTable } from "../routing/memory/index.ts";
import { createRedisGatewayRegistry, createRedisRoutingTable, parseRedisUrl } from "../routing/redis/index.ts";
import type { GatewayRegistry, RoutingTable } from "../routing/index.ts";
import { createCassandraStore, parseCassandraUrl } from "../store/cassandra/index.ts";
import { createSqliteStore } from "../store/sqlite/index.ts";
import type { AccountStore, MessageStore } from "../store/index.ts";

/** The adapters behind every port, opened from the configured URLs. */
export interface Backends {
  readonly log: MessageLog;
  readonly store: MessageStore & AccountStore;
  readonly routing: RoutingTable;
  readonly presence: PresenceStore;
  readonly registry: GatewayRegistry;
  /** True when routing is shared between processes (Redis): pushes then cross processes over gRPC. */
  readonly shared: boolean;
  /** Closes in reverse order of opening. */
  close(): Promise<void>;
}

/**
 * The one place adapters are chosen: an explicit switch on each URL's scheme
 * (embedded/sqlite/memory for the single-process default; kafka, cassandra
 * and redis for distributed mode). Nothing registers itself on import.
 */
export async function openBackends(config: Config, deps: { clock: Clock; logger: Logger }): Promise<Backends> {
  const { logUrl, storeUrl, redisUrl } = config.backends;
  const sqlite = { commitIntervalMs: config.backends.sqliteCommitIntervalMs, checkpointIntervalMs: config.backends.sqliteCheckpointIntervalMs };
  const opened: { close(): Promise<void> }[] = [];
  try {
    const store = await openStore(storeUrl, sqlite, deps.logger);
    opened.push(store);
    const log = await openLog(logUrl, config.logPartitions, sqlite, deps.logger);
    opened.push(log);
    const shared = redisUrl.startsWith("redis:");
    const redis = shared ? parseRedisUrl(redisUrl) : undefined;
    const routing = redis ? createRedisRoutingTable(redis, { logger: deps.logger }) : createMemoryRoutingTable(deps);
    opened.push(routing);
    const presence = redis ? createRedisPresenceStore(redis, { clock: deps.clock, logger: deps.logger }) : createMemoryPresenceStore(deps);
    opened.push(presence);
    const registry = redis ? createRedisGatewayRegistry(redis, { logger: deps.logger }) : createMemoryGatewayRegistry(deps);
    opened.push(registry);
    return {
      log,
      store,
      routing,
      presence,
      registry,
      shared,
      async close() {
        for (const b of opened.reverse()) await b.close().catch((err) => deps.logger.warn({ err }, "close failed"));
      },
    };
  } catch (err) {
    for (const b of opened.reverse()) await b.close().catch(() => undefined);
    throw err;
  }
}

/** How the SQLite-backed log and store pace their commits and checkpoints. */
interface SqliteTuning {
  readonly commitIntervalMs: number;
  readonly checkpointIntervalMs: number;
}

async function openStore(url: string, sqlite: SqliteTuning, logger: Logger): Promise<MessageStore & AccountStore> {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    return createSqliteStore({ path, ...sqlite });
  }
  if (url.startsWith("cassandra:")) return createCassandraStore(parseCassandraUrl(url), { logger });
  throw new Error(`unsupported STORE_URL ${url}`);
}

async function openLog(url: string, partitions: number, sqlite: SqliteTuning, logger: Logger): Promise<MessageLog> {
  if (url.startsWith("embedded:")) {
    const path = url.slice("embedded:".length);
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    return createEmbeddedLog({ path, partitionCount: partitions, ...sqlite }, { logger });
  }
  if (url.startsWith("kafka:")) {
    const parsed = parseKafkaUrl(url);
    // LOG_PARTITIONS applies unless the URL names a count itself.
    const partitionCount = new URL(url).searchParams.has("partitions") ? parsed.partitionCount : partitions;
    return createKafkaLog({ ...parsed, partitionCount }, { logger });
  }
  throw new Error(`unsupported LOG_URL ${url}`);
}
