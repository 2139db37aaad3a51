/** Consistency levels the store accepts (names as in CQL). */
export const CONSISTENCY_LEVELS = ["LOCAL_QUORUM", "QUORUM", "EACH_QUORUM", "LOCAL_ONE", "ONE", "ALL"] as const;
export type CassandraConsistency = (typeof CONSISTENCY_LEVELS)[number];

/** Where and how the Cassandra store runs. A plain object, usually from parseCassandraUrl. */
export interface CassandraStoreConfig {
  /** "host:port" of the first nodes to contact; the driver discovers the rest. */
  readonly contactPoints: readonly string[];
  /** The datacenter whose nodes are queried (LOCAL_* consistency is relative to it). */
  readonly localDataCenter: string;
  readonly keyspace: string;
  /** SimpleStrategy replication factor; used only when a migration creates the keyspace. */
  readonly replicationFactor: number;
  /** Consistency of every read and write (LWT commits too); default LOCAL_QUORUM. */
  readonly consistency: CassandraConsistency;
  /**
   * Apply pending schema migrations when the store opens (tests and dev).
   * Off by default: production runs cmd/migrate as its own deploy step, and
   * a store that finds its schema behind refuses to open.
   */
  readonly migrate?: boolean;
  /** Client-side timeout of one request (default 12000, the driver's). */
  readonly requestTimeoutMs?: number;
  /** Highest unread count reported; a count at the cap means "cap or more" (default 999). */
  readonly unreadCountCap?: number;
}

export const DEFAULT_PORT = 9042;
export const DEFAULT_UNREAD_COUNT_CAP = 999;
const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,47}$/;
const URL_SHAPE = /^cassandra:\/\/([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/;
const KNOWN_PARAMS = new Set(["dc", "rf", "consistency", "migrate", "timeoutMs", "unreadCap"]);

/**
 * Parses `cassandra://host:port[,host:port]/keyspace?dc=datacenter1&rf=1&consistency=LOCAL_QUORUM`
 * (also `migrate=true`, `timeoutMs=`, `unreadCap=`). Throws one Error listing
 * every problem found. A host without a port gets 9042.
 */
export function parseCassandraUrl(url: string): CassandraStoreConfig {
  const match = URL_SHAPE.exec(url.trim());
  if (!match) {
    throw new Error(`invalid cassandra URL "${url}": expected cassandra://host:port[,host:port]/keyspace?dc=...`);
  }
  const [, hostList = "", path = "", query = ""] = match;
  const params = new URLSearchParams(query);
  const problems: string[] = [];

  const contactPoints = hostList.split(",").map((h) => h.trim()).filter((h) => h !== "").map((h) => {
    const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?$/.exec(h);
    const port = Number(hostPort?.[2] ?? DEFAULT_PORT);
    if (!hostPort || port < 1 || port > 65_535) problems.push(`bad host "${h}"`);
    return `${hostPort?.[1] ?? h}:${port}`;
  });
  if (contactPoints.length === 0) problems.push("no host");

  const keyspace = decodeURIComponent(path.replace(/\/+$/, ""));
  if (!KEYSPACE_NAME.test(keyspace)) {
    problems.push(`keyspace "${keyspace}" must match ${KEYSPACE_NAME.source} (lower case, the path of the URL)`);
  }
  for (const key of params.keys()) if (!KNOWN_PARAMS.has(key)) problems.push(`unknown parameter "${key}"`);

  const consistency = (params.get("consistency") ?? "LOCAL_QUORUM").toUpperCase();
  if (!(CONSISTENCY_LEVELS as readonly string[]).includes(consistency)) {
    problems.push(`consistency "${consistency}" is not one of ${CONSISTENCY_LEVELS.join(", ")}`);
  }
  const migrate = params.get("migrate") ?? "false";
  if (migrate !== "true" && migrate !== "false") problems.push(`migrate must be true or false, not "${migrate}"`);

  const int = (key: string, fallback: number | undefined, min: number): number | undefined => {
    const raw = params.get(key);
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) problems.push(`${key} must be an integer >= ${min}, not "${raw}"`);
    return n;
  };
  const replicationFactor = int("rf", 1, 1) ?? 1;
  const requestTimeoutMs = int("timeoutMs", undefined, 1);
  const unreadCountCap = int("unreadCap", undefined, 1);

  if (problems.length > 0) throw new Error(`invalid cassandra URL "${url}": ${problems.join("; ")}`);
  return {
    contactPoints,
    localDataCenter: params.get("dc") ?? "datacenter1",
    keyspace,
    replicationFactor,
    consistency: consistency as CassandraConsistency,
    migrate: migrate === "true",
    ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
    ...(unreadCountCap !== undefined ? { unreadCountCap } : {}),
  };
}

/**
 * Checks a config built by hand. The keyspace name is spliced into CQL
 * (keyspace DDL cannot take bind markers), so it must be a plain identifier.
 */
export function assertValidConfig(cfg: CassandraStoreConfig): void {
  const problems: string[] = [];
  if (cfg.contactPoints.length === 0) problems.push("no contact point");
  if (!KEYSPACE_NAME.test(cfg.keyspace)) problems.push(`keyspace "${cfg.keyspace}" must match ${KEYSPACE_NAME.source}`);
  if (!Number.isInteger(cfg.replicationFactor) || cfg.replicationFactor < 1) {
    problems.push("replicationFactor must be >= 1");
  }
  if (!(CONSISTENCY_LEVELS as readonly string[]).includes(cfg.consistency)) {
    problems.push(`unknown consistency ${cfg.consistency}`);
  }
  if (cfg.unreadCountCap !== undefined && !(Number.isInteger(cfg.unreadCountCap) && cfg.unreadCountCap >= 1)) {
    problems.push("unreadCountCap must be an integer >= 1");
  }
  if (problems.length > 0) throw new Error(`invalid cassandra store config: ${problems.join("; ")}`);
}
