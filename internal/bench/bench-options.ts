/** The load scenarios (see docs/benchmarks.md). */
export const scenarios = ["steady", "saturate", "idle", "reconnect-storm", "presence", "slow-consumer"] as const;
export type Scenario = (typeof scenarios)[number];

/**
 * Where the servers come from: `embedded` starts `bun cmd/server/main.ts`,
 * `distributed` starts gateway and worker processes on Kafka, Cassandra and
 * Redis, `external` uses `--url` and reads the resources of `--pids`.
 */
export type BenchMode = "embedded" | "distributed" | "external";

/** Every setting of one bench run, validated. */
export interface BenchOptions {
  readonly scenario: Scenario;
  readonly mode: BenchMode;
  /** Offered rate in messages/s (steady), or the first step (saturate). */
  readonly ratePerSec: number;
  /** Length of the measured window (steady, presence; the hold of idle). */
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Conversation pairs (steady, saturate). */
  readonly pairs: number;
  /** Devices per user (steady, saturate). */
  readonly devicesPerUser: number;
  readonly bodyBytes: number;
  /** Saturate: each step multiplies the rate by this. */
  readonly stepFactor: number;
  /** Saturate: a step holds while its p99 end-to-end latency stays at or below this. */
  readonly p99LimitMs: number;
  /** Saturate: never offer more than this. */
  readonly maxRatePerSec: number;
  /** Connections (idle), dropping devices (reconnect-storm), users (presence), devices that stop reading (slow-consumer). */
  readonly connections: number;
  /** Reconnect-storm: messages sent to the dropped devices while they are away. */
  readonly stormMessages: number;
  /** Presence: conversation peers each user watches. */
  readonly watchPeers: number;
  /** Streams opened at once while connecting a fleet. */
  readonly connectConcurrency: number;
  /** Extra 127.0.0.x addresses to connect from (idle past ~28k connections). */
  readonly sourceAddresses: readonly string[];
  /** OUTBOUND_QUEUE_LIMIT of the servers the bench starts (undefined: the server's default). */
  readonly queueLimit: number | undefined;
  /** Distributed mode: processes to start. */
  readonly gateways: number;
  readonly workers: number;
  readonly partitions: number;
  /** External mode: the gateway URLs and the server pids. */
  readonly urls: readonly string[];
  readonly pids: readonly number[];
  /** Distributed mode: each server process's captured output is written to DIR/<name>.log at the end. */
  readonly serverLogDir: string | undefined;
  /** Write a CPU profile of every server process the bench starts into this directory. */
  readonly serverCpuProfDir: string | undefined;
  /** JSON report path. */
  readonly out: string | undefined;
  readonly quiet: boolean;
}

/** Defaults of every option; `--scenario` picks sensible connection counts. */
export const defaultOptions: BenchOptions = {
  scenario: "steady",
  mode: "embedded",
  ratePerSec: 2000,
  durationMs: 30_000,
  warmupMs: 5_000,
  pairs: 100,
  devicesPerUser: 1,
  bodyBytes: 64,
  stepFactor: 1.25,
  p99LimitMs: 250,
  maxRatePerSec: 40_000,
  connections: 1000,
  stormMessages: 0,
  watchPeers: 4,
  connectConcurrency: 100,
  sourceAddresses: [],
  queueLimit: undefined,
  gateways: 1,
  workers: 1,
  partitions: 12,
  urls: [],
  pids: [],
  serverCpuProfDir: undefined,
  serverLogDir: undefined,
  out: undefined,
  quiet: false,
};

/**
 * Defaults that differ per scenario: a device that stops reading holds a
 * full outbound queue (thousands of events), so slow-consumer runs a few
 * dozen of them with bodies large enough to show in the gateway's RSS.
 */
const scenarioDefaults: Partial<Record<Scenario, Partial<BenchOptions>>> = {
  "slow-consumer": { connections: 20, ratePerSec: 400, warmupMs: 20_000, durationMs: 90_000, bodyBytes: 4_096 },
};

/** Thrown with every problem of the command line at once. */
export class BenchUsageError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid bench options:\n  - ${problems.join("\n  - ")}`);
    this.name = "BenchUsageError";
  }
}

/** "30s", "1500ms", "2m", or a bare number of seconds, in milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000);
}

/** Parses `--key value` and `--key=value` arguments over the defaults. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const problems: string[] = [];
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m?.[1]) {
      problems.push(`unexpected argument ${arg}`);
      continue;
    }
    if (m[2] !== undefined) raw.set(m[1], m[2]);
    else if (m[1] === "quiet") raw.set(m[1], "true");
    else if (i + 1 < argv.length) raw.set(m[1], argv[++i] as string);
    else problems.push(`--${m[1]} needs a value`);
  }
  const take = (key: string): string | undefined => {
    const v = raw.get(key);
    raw.delete(key);
    return v;
  };
  const num = (key: string, def: number, min: number, max: number, integer = true): number => {
    const v = take(key);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      problems.push(`--${key}=${v}: expected ${integer ? "an integer" : "a number"} in [${min}, ${max}]`);
      return def;
    }
    return n;
  };
  const duration = (key: string, def: number): number => {
    const v = take(key);
    if (v === undefined) return def;
    const ms = parseDurationMs(v);
    if (ms === undefined || ms > 3_600_000) problems.push(`--${key}=${v}: expected a duration like 30s, 500ms or 2m (at most 1 h)`);
    return ms ?? def;
  };
  const list = (key: string): string[] => (take(key) ?? "").split(",").map((s) => s.trim()).filter(Boolean);

  const scenario = take("scenario") ?? defaultOptions.scenario;
  if (!(scenarios as readonly string[]).includes(scenario)) problems.push(`--scenario=${scenario}: expected one of ${scenarios.join(", ")}`);
  const defaults: BenchOptions = { ...defaultOptions, ...scenarioDefaults[scenario as Scenario] };
  const urls = list("url");
  const pids = list("pids").map(Number);
  if (pids.some((p) => !Number.isInteger(p) || p <= 0)) problems.push("--pids: expected a comma-separated list of process ids");
  const mode = take("mode") ?? (urls.length > 0 ? "external" : defaultOptions.mode);
  if (!["embedded", "distributed", "external"].includes(mode)) problems.push(`--mode=${mode}: expected embedded, distributed or external`);
  if (mode === "external" && urls.length === 0) problems.push("--mode=external needs --url");
  for (const url of urls) {
    const loopback = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/;
    if (!loopback.test(url)) problems.push(`--url=${url}: the bench only targets loopback addresses`);
  }
  const sourceAddresses = list("source-addrs");
  for (const a of sourceAddresses) if (!/^127\.\d+\.\d+\.\d+$/.test(a)) problems.push(`--source-addrs: ${a} is not a 127.x.y.z address`);

  const options: BenchOptions = {
    scenario: scenario as Scenario,
    mode: mode as BenchMode,
    ratePerSec: num("rate", defaults.ratePerSec, 1, 1_000_000),
    durationMs: duration("duration", defaults.durationMs),
    warmupMs: duration("warmup", defaults.warmupMs),
    pairs: num("pairs", defaults.pairs, 1, 100_000),
    devicesPerUser: num("devices", defaults.devicesPerUser, 1, 10),
    bodyBytes: num("body-bytes", defaults.bodyBytes, 16, 16_384),
    stepFactor: num("step-factor", defaults.stepFactor, 1.01, 4, false),
    p99LimitMs: num("p99-limit-ms", defaults.p99LimitMs, 1, 60_000),
    maxRatePerSec: num("max-rate", defaults.maxRatePerSec, 1, 1_000_000),
    connections: num("connections", defaults.connections, 2, 200_000),
    stormMessages: num("messages", defaults.stormMessages, 0, 10_000_000),
    watchPeers: num("watch", defaults.watchPeers, 1, 100),
    connectConcurrency: num("connect-concurrency", defaults.connectConcurrency, 1, 10_000),
    sourceAddresses,
    // The server's own bounds: OUTBOUND_QUEUE_LIMIT takes 16 to 1,000,000.
    queueLimit: raw.has("queue-limit") ? num("queue-limit", 0, 16, 1_000_000) : undefined,
    gateways: num("gateways", defaults.gateways, 1, 16),
    workers: num("workers", defaults.workers, 1, 16),
    partitions: num("partitions", defaults.partitions, 1, 256),
    urls,
    pids,
    serverCpuProfDir: take("server-cpu-prof"),
    serverLogDir: take("server-logs"),
    out: take("out"),
    quiet: take("quiet") === "true",
  };
  for (const key of raw.keys()) problems.push(`unknown option --${key}`);
  if (problems.length > 0) throw new BenchUsageError(problems);
  return options;
}

/** Usage text for --help and errors. */
export const benchUsage = `usage: bun cmd/bench/main.ts --scenario steady|saturate|idle|reconnect-storm|presence|slow-consumer [options]
  --mode embedded|distributed|external   servers to start (external: --url URL[,URL] [--pids PID,...])
  --rate N             offered messages/s (steady, slow-consumer), first step (saturate)  [2000; slow-consumer 400]
  --duration 30s       measured window (steady, presence), hold time (idle),
                       sending time (slow-consumer)                             [30s; slow-consumer 90s]
  --warmup 5s          load before the measured window (slow-consumer: while the
                       devices still read)                                      [5s; slow-consumer 20s]
  --pairs N --devices D   conversation pairs, devices per user (steady, saturate) [100, 1]
  --connections N      idle streams / dropping devices / presence users          [1000]
                       / devices that stop reading (slow-consumer)               [20]
  --messages M         reconnect-storm: messages sent while devices are away     [5 per device]
  --watch K            presence: peers each user has a conversation with        [4]
  --step-factor F --p99-limit-ms L --max-rate N   saturate steps                 [1.25, 250, 40000]
  --queue-limit N      OUTBOUND_QUEUE_LIMIT of the servers the bench starts     [server default]
  --gateways G --workers W --partitions P   distributed topology               [1, 1, 12]
  --source-addrs 127.0.0.2,...   extra local addresses to connect from
  --server-cpu-prof DIR   CPU profile of every server process the bench starts (bun --cpu-prof)
  --server-logs DIR       distributed: write each server's output (LOG_LEVEL warn) to DIR/<name>.log at the end
  --body-bytes N       message body size                                        [64; slow-consumer 4096]
  --connect-concurrency N --out FILE.json --quiet`;
