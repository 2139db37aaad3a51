/**
 * Where the Kafka-API `messages` log lives and how its clients behave.
 * Tuning fields are optional; {@link resolveKafkaLogConfig} fills the defaults.
 */
export interface KafkaLogConfig {
  /** Bootstrap brokers, "host:port" each. */
  readonly brokers: readonly string[];
  readonly topic: string;
  /** The topic is created with this count; an existing topic with another count is refused. */
  readonly partitionCount: number;
  /** Prefix of every client id the adapter opens (producer, admin, one per consume()). */
  readonly clientId: string;
  /** Used only when the adapter creates the topic; unset = the broker's default.replication.factor. */
  readonly replicationFactor?: number;
  /** Prepended to every consumer group id, so that several deployments or test runs can share a cluster. */
  readonly groupIdPrefix?: string;
  /**
   * A member that sends no heartbeat for this long is dropped and its partitions move: the delay
   * after a crashed worker. The broker refuses values outside
   * group.min/max.session.timeout.ms (Kafka: 6 s .. 30 min; Redpanda: the same defaults).
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Heartbeat period, also the longest a member inside a batch takes to notice a rebalance
   * (it aborts the batch's signal then). Must be below sessionTimeoutMs; a third is customary.
   */
  readonly heartbeatIntervalMs?: number;
  /** How long the coordinator waits for every member to finish its in-flight batches and rejoin. */
  readonly rebalanceTimeoutMs?: number;
  /** Longest fetch long-poll: an idle member notices a rebalance within this plus one heartbeat. */
  readonly fetchMaxWaitMs?: number;
  /**
   * While records flow, a fetch round starts at least this long after the previous one began:
   * under load each fetch carries several records per partition instead of one, and an idle
   * member still long-polls (fetchMaxWaitMs). The price is at most this much latency.
   */
  readonly fetchIntervalMs?: number;
  /**
   * Handled offsets are committed together, at most this often, in one request for all of the
   * member's partitions. Records handled since the last commit are handed to the partition's
   * next owner again after a crash or a rebalance (handlers are idempotent): this bounds that
   * replay. 0 commits as soon as a batch is handled.
   */
  readonly commitIntervalMs?: number;
  /**
   * While appends flow, a produce request starts at least this long after the previous one
   * began: the appends of many devices that arrive meanwhile share one request (one write, one
   * broker round) instead of a request each. An append after a quiet spell goes at once. The
   * price is at most this much latency on the sent ack, under load only. 0 sends as soon as the
   * previous request is answered.
   */
  readonly produceIntervalMs?: number;
  /** Broker-side acks=all wait per produce attempt; client requests time out a little later. */
  readonly requestTimeoutMs?: number;
  /** Retries after a failed attempt before append or startup gives up with BackendUnavailableError. */
  readonly retries?: number;
}

export type ResolvedKafkaLogConfig = Required<KafkaLogConfig>;

/** Defaults, chosen for quick rebalances on a small cluster while tolerating GC pauses. */
export const KAFKA_LOG_DEFAULTS = {
  topic: "messages",
  partitionCount: 12,
  clientId: "chat",
  replicationFactor: -1,
  groupIdPrefix: "",
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 30_000,
  fetchMaxWaitMs: 500,
  fetchIntervalMs: 5,
  produceIntervalMs: 2,
  commitIntervalMs: 250,
  requestTimeoutMs: 5_000,
  retries: 5,
} as const;

const NUMERIC_PARAMS = {
  partitions: "partitionCount",
  replicationFactor: "replicationFactor",
  sessionTimeoutMs: "sessionTimeoutMs",
  heartbeatIntervalMs: "heartbeatIntervalMs",
  rebalanceTimeoutMs: "rebalanceTimeoutMs",
  fetchMaxWaitMs: "fetchMaxWaitMs",
  fetchIntervalMs: "fetchIntervalMs",
  produceIntervalMs: "produceIntervalMs",
  commitIntervalMs: "commitIntervalMs",
  requestTimeoutMs: "requestTimeoutMs",
  retries: "retries",
} as const;
const STRING_PARAMS = { topic: "topic", clientId: "clientId", groupIdPrefix: "groupIdPrefix" } as const;

/** Fills defaults and validates; throws one error listing every problem. */
export function resolveKafkaLogConfig(cfg: KafkaLogConfig): ResolvedKafkaLogConfig {
  const resolved: ResolvedKafkaLogConfig = {
    ...KAFKA_LOG_DEFAULTS,
    ...(Object.fromEntries(Object.entries(cfg).filter(([, value]) => value !== undefined)) as KafkaLogConfig),
  };
  const problems: string[] = [];
  if (resolved.brokers.length === 0) problems.push("no broker given");
  for (const broker of resolved.brokers) {
    if (!/^[^\s:,/]+:\d{1,5}$/.test(broker)) problems.push(`broker "${broker}" is not host:port`);
  }
  if (resolved.topic === "" || !/^[A-Za-z0-9._-]{1,249}$/.test(resolved.topic)) {
    problems.push(`topic "${resolved.topic}" is not a valid Kafka topic name`);
  }
  if (resolved.clientId === "") problems.push("clientId is empty");
  const positive = [
    "partitionCount",
    "sessionTimeoutMs",
    "heartbeatIntervalMs",
    "rebalanceTimeoutMs",
    "fetchMaxWaitMs",
    "requestTimeoutMs",
  ] as const;
  for (const field of positive) {
    if (!Number.isInteger(resolved[field]) || resolved[field] < 1) problems.push(`${field} must be a positive integer`);
  }
  for (const field of ["retries", "fetchIntervalMs", "produceIntervalMs", "commitIntervalMs"] as const) {
    if (!Number.isInteger(resolved[field]) || resolved[field] < 0) problems.push(`${field} must be an integer >= 0`);
  }
  if (!Number.isInteger(resolved.replicationFactor) || resolved.replicationFactor === 0 || resolved.replicationFactor < -1) {
    problems.push("replicationFactor must be a positive integer (or -1 for the broker default)");
  }
  if (resolved.heartbeatIntervalMs >= resolved.sessionTimeoutMs) {
    problems.push("heartbeatIntervalMs must be below sessionTimeoutMs");
  }
  if (problems.length > 0) throw new Error(`invalid Kafka log config: ${problems.join("; ")}`);
  return resolved;
}

/**
 * Parses `kafka://host:port[,host:port]?topic=messages&partitions=12&clientId=chat`; the other
 * KafkaLogConfig fields may be given as query parameters of the same name. Unknown parameters
 * are refused (a typo would otherwise silently keep a default).
 */
export function parseKafkaUrl(url: string): ResolvedKafkaLogConfig {
  const match = /^kafka:\/\/([^/?#]*)\/?(?:\?([^#]*))?$/.exec(url.trim());
  if (match === null) throw new Error(`invalid Kafka log URL "${url}": expected kafka://host:port[,host:port][?params]`);
  const brokers = match[1]!.split(",").filter((broker) => broker !== "");
  const params = new URLSearchParams(match[2] ?? "");
  const fields: Record<string, unknown> = { brokers };
  const problems: string[] = [];
  for (const [name, value] of params) {
    if (name in STRING_PARAMS) {
      fields[STRING_PARAMS[name as keyof typeof STRING_PARAMS]] = value;
    } else if (name in NUMERIC_PARAMS) {
      const number = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
      if (Number.isNaN(number)) problems.push(`${name}=${value} is not an integer`);
      fields[NUMERIC_PARAMS[name as keyof typeof NUMERIC_PARAMS]] = number;
    } else {
      problems.push(`unknown parameter "${name}"`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid Kafka log URL "${url}": ${problems.join("; ")}`);
  return resolveKafkaLogConfig(fields as unknown as KafkaLogConfig);
}
