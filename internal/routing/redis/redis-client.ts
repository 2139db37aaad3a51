import { Redis } from "ioredis";
import type { ChainableCommander, RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { BackendUnavailableError } from "../../domain/index.ts";

/**
 * Where the Redis adapters (routing, presence, gateway registry) keep their
 * state. Parsed from `redis://[user:password@]host[:port][/db][?prefix=...]`
 * by {@link parseRedisUrl}.
 *
 * The adapters target a standalone Redis (optionally with replicas), not
 * Redis Cluster: the routing scripts touch a device's key and its user's
 * index, which would live in different hash slots.
 */
export interface RedisConfig {
  /** `redis://` or `rediss://` (TLS) URL without query parameters. */
  readonly url: string;
  /** Prepended to every key and to the pub/sub channel; lets several deployments or test runs share one server. */
  readonly keyPrefix?: string;
}

/** The prefix when none is configured. */
export const DEFAULT_KEY_PREFIX = "chat:";

/** Bounds every command, so a hung server surfaces as BackendUnavailableError instead of a stuck caller. */
export const COMMAND_TIMEOUT_MS = 5_000;
const CONNECT_TIMEOUT_MS = 2_000;

/**
 * Parses a Redis URL into a {@link RedisConfig}. The only query parameter
 * is `prefix` (the key prefix); anything else is refused rather than handed
 * to the client library, which would read it as a connection option.
 *
 * @throws Error naming the problem (the password, if any, is not echoed)
 */
export function parseRedisUrl(url: string): RedisConfig {
  const shown = redact(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`redis url ${shown}: not a URL`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new Error(`redis url ${shown}: expected redis:// or rediss://`);
  }
  if (parsed.hostname === "") throw new Error(`redis url ${shown}: missing host`);
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d{1,5}$/.test(db)) throw new Error(`redis url ${shown}: database must be a number, got "${db}"`);
  const unknown = [...parsed.searchParams.keys()].filter((key) => key !== "prefix");
  if (unknown.length > 0) throw new Error(`redis url ${shown}: unknown parameter(s) ${unknown.join(", ")}`);
  const keyPrefix = parsed.searchParams.get("prefix");
  parsed.search = "";
  return { url: parsed.toString(), ...(keyPrefix === null ? {} : { keyPrefix }) };
}

/** The URL with its password masked, for messages and logs. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, "$1***@");
}

/**
 * Opens an ioredis connection for one adapter. Options are built from the
 * URL's parts (never from the raw string, whose query ioredis would read as
 * options). Commands issued while disconnected wait for at most one
 * reconnect attempt, then fail: callers (heartbeats, pushes) retry on their
 * own schedule, so failing fast beats queueing behind a dead server.
 */
export function openRedisClient(cfg: RedisConfig, deps: { logger: Logger; role: string }): Redis {
  const { url } = parseRedisUrl(cfg.url);
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, "");
  const options: RedisOptions = {
    host: parsed.hostname.replace(/^\[|\]$/g, ""),
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    db: db === "" ? 0 : Number(db),
    ...(parsed.username === "" ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === "" ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(parsed.protocol === "rediss:" ? { tls: { servername: parsed.hostname } } : {}),
    connectionName: `chat-${deps.role}`,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
  };
  const client = new Redis(options);
  const logger = deps.logger.child({ component: "redis", role: deps.role });
  // Without a listener ioredis prints every reconnect failure to stderr; the
  // failures reach callers as BackendUnavailableError anyway.
  client.on("error", (err: unknown) => logger.warn({ err }, "redis connection error"));
  return client;
}

/** Ends a connection: politely when it is up, at once when it is not (QUIT would wait for a reconnect). */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === "end") return;
  if (client.status !== "ready") {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/** Server replies meaning "cannot serve now", as opposed to a bug in the request. */
const UNAVAILABLE_REPLIES = ["LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "OOM", "MISCONF"];

/**
 * Maps an ioredis failure to the domain's error: connection loss, timeouts
 * and "server busy" replies become BackendUnavailableError; other server
 * replies (wrong type, script errors) are bugs and pass through unchanged.
 */
export function toBackendError(err: unknown, operation: string): Error {
  if (err instanceof BackendUnavailableError) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  if (error.name === "ReplyError" && !UNAVAILABLE_REPLIES.some((code) => error.message.startsWith(code))) {
    return error;
  }
  return new BackendUnavailableError("redis", `redis ${operation} failed: ${error.message}`, { cause: err });
}

/** Runs a pipeline and returns its replies, throwing the first failed command's error (mapped). */
export async function execPipeline(pipeline: ChainableCommander, operation: string): Promise<unknown[]> {
  let replies: [Error | null, unknown][] | null;
  try {
    replies = await pipeline.exec();
  } catch (err) {
    throw toBackendError(err, operation);
  }
  if (replies === null) throw new BackendUnavailableError("redis", `redis ${operation} failed: pipeline discarded`);
  return replies.map(([err, reply]) => {
    if (err !== null) throw toBackendError(err, operation);
    return reply;
  });
}

/** The reply of TIME (seconds, microseconds) in milliseconds. */
export function serverTimeMs(reply: unknown): number {
  const [seconds, micros] = reply as [string, string];
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
}

/** Deletes every key starting with `prefix` (SCAN, never KEYS, so a large shared database is not blocked). */
export async function deleteKeysWithPrefix(client: Redis, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 500);
    if (keys.length > 0) deleted += await client.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  return deleted;
}
