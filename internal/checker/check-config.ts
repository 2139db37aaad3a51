import { allFaultKinds, distributedFaultKinds, faultKinds, type FaultKind } from "./fault-injector.ts";

/**
 * What the fleet talks to: `embedded`, the single-process server (SQLite,
 * in-memory routing); `distributed`, a test cluster of `cmd/gateway` and
 * `cmd/worker` processes on the real Kafka, Cassandra and Redis.
 */
export type CheckMode = "embedded" | "distributed";

/** How the next fault's kind is chosen: at random (seeded), or cycling through the kinds in order. */
export type FaultOrder = "random" | "cycle";

/** Settings of one checker run. */
export interface CheckConfig {
  readonly mode: CheckMode;
  readonly users: number;
  readonly devicesPerUser: number;
  readonly conversationsPerUser: number;
  /** Messages to compose in total. */
  readonly messages: number;
  /** Longest time the workload runs (it also stops when all messages are composed). */
  readonly durationMs: number;
  /** Mean time between faults. */
  readonly faultEveryMs: number;
  readonly faults: readonly FaultKind[];
  readonly faultOrder: FaultOrder;
  readonly seed: number;
  /** Server data and device files; a fresh temp directory (removed on success) when absent. */
  readonly dataDir?: string;
  readonly readProbability: number;
  readonly maxNetworkFaultMs: number;
  readonly maxDownMs: number;
  readonly quiesceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Distributed mode: gateway and worker processes, and log partitions. */
  readonly gateways: number;
  readonly workers: number;
  readonly partitions: number;
  /** Distributed mode: longest time a killed gateway or worker stays down. */
  readonly maxProcessDownMs: number;
}

/** Defaults: a small run that finishes in well under a minute. */
export const defaultCheckConfig: CheckConfig = {
  mode: "embedded",
  users: 4,
  devicesPerUser: 2,
  conversationsPerUser: 3,
  messages: 300,
  durationMs: 15_000,
  faultEveryMs: 300,
  faults: faultKinds,
  faultOrder: "random",
  seed: 1,
  readProbability: 0.2,
  maxNetworkFaultMs: 2_000,
  maxDownMs: 500,
  quiesceTimeoutMs: 60_000,
  heartbeatIntervalMs: 500,
  gateways: 2,
  workers: 2,
  partitions: 6,
  maxProcessDownMs: 3_000,
};

/** Fault kinds each mode can inject (the server-side kinds differ; device and network faults are common). */
const kindsOf: Record<CheckMode, readonly FaultKind[]> = {
  embedded: faultKinds,
  distributed: distributedFaultKinds,
};

const intFlags = {
  users: ["users", 1, 1_000],
  devices: ["devicesPerUser", 1, 20],
  "conversations-per-user": ["conversationsPerUser", 1, 1_000],
  messages: ["messages", 0, 10_000_000],
  "fault-every-ms": ["faultEveryMs", 10, 3_600_000],
  seed: ["seed", 0, 4_294_967_295],
  "max-network-fault-ms": ["maxNetworkFaultMs", 100, 600_000],
  "max-down-ms": ["maxDownMs", 0, 600_000],
  "heartbeat-interval-ms": ["heartbeatIntervalMs", 100, 60_000],
  gateways: ["gateways", 2, 8],
  workers: ["workers", 1, 8],
  partitions: ["partitions", 1, 256],
  "max-process-down-ms": ["maxProcessDownMs", 0, 600_000],
} as const;

/**
 * Reads `--name=value` / `--name value` flags over the defaults, checking
 * every flag and reporting all problems at once.
 */
export function parseCheckArgs(argv: readonly string[]): { config: CheckConfig; problems: string[] } {
  const problems: string[] = [];
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) {
      problems.push(`unexpected argument ${arg}`);
      continue;
    }
    const eq = arg.indexOf("=");
    if (eq > 0) values.set(arg.slice(2, eq), arg.slice(eq + 1));
    else values.set(arg.slice(2), argv[++i] ?? "");
  }
  const config: Record<string, unknown> = { ...defaultCheckConfig };
  for (const [flag, raw] of values) {
    if (flag in intFlags) {
      const [key, min, max] = intFlags[flag as keyof typeof intFlags];
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max) problems.push(`--${flag} must be an integer in [${min}, ${max}], got "${raw}"`);
      else config[key] = n;
    } else if (flag === "duration-s" || flag === "quiesce-timeout-s") {
      const n = Number(raw);
      if (!Number.isFinite(n) || n <= 0 || n > 86_400) problems.push(`--${flag} must be seconds in (0, 86400], got "${raw}"`);
      else config[flag === "duration-s" ? "durationMs" : "quiesceTimeoutMs"] = Math.round(n * 1_000);
    } else if (flag === "read-probability") {
      const n = Number(raw);
      if (!(n >= 0 && n <= 1)) problems.push(`--read-probability must be in [0, 1], got "${raw}"`);
      else config.readProbability = n;
    } else if (flag === "faults") {
      const kinds = raw === "" || raw === "none" ? [] : raw.split(",").map((k) => k.trim());
      const unknown = kinds.filter((k) => !allFaultKinds.includes(k as FaultKind));
      if (unknown.length > 0) problems.push(`--faults: unknown kind(s) ${unknown.join(", ")} (known: ${allFaultKinds.join(", ")}, or none)`);
      else config.faults = [...new Set(kinds)];
    } else if (flag === "mode") {
      if (raw !== "embedded" && raw !== "distributed") problems.push(`--mode must be embedded or distributed, got "${raw}"`);
      else config.mode = raw;
    } else if (flag === "fault-order") {
      if (raw !== "random" && raw !== "cycle") problems.push(`--fault-order must be random or cycle, got "${raw}"`);
      else config.faultOrder = raw;
    } else if (flag === "data-dir") {
      if (raw === "") problems.push("--data-dir needs a path");
      else config.dataDir = raw;
    } else problems.push(`unknown flag --${flag}`);
  }
  const mode = config.mode as CheckMode;
  // Without --faults, each mode injects every kind it supports.
  if (!values.has("faults")) config.faults = kindsOf[mode];
  const misplaced = (config.faults as FaultKind[]).filter((k) => !kindsOf[mode].includes(k));
  if (misplaced.length > 0) problems.push(`--faults: ${misplaced.join(", ")} cannot be injected in ${mode} mode (it takes ${kindsOf[mode].join(", ")})`);
  return { config: config as unknown as CheckConfig, problems };
}
