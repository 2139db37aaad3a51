import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { closeRedisClient, deleteKeysWithPrefix, openRedisClient, parseRedisUrl } from "../routing/redis/index.ts";
import type { PrivateRedis } from "../testkit/index.ts";
import type { FaultContext, FaultKind } from "./fault-injector.ts";

const repoRoot = join(import.meta.dir, "../..");
const servicesScript = join(repoRoot, "scripts/infra/services.sh");
/** The JVM main classes scripts/infra/services.sh checks behind its pid files (guards against pid reuse). */
const mainClass = { kafka: "kafka.Kafka", cassandra: "org.apache.cassandra.service.CassandraDaemon" } as const;
/** How long a detached watchdog waits past a pause before it sends SIGCONT itself. */
const watchdogGraceMs = 5_000;
/** Past a whole restart (stop: up to 30 s, then start and wait: up to 90 s): only a dead checker leaves it to the watchdog. */
const kafkaWatchdogMs = 150_000;

/** The backend kinds this module injects. */
export const backendFaultKinds = ["kafka-restart", "redis-flush", "redis-restart", "cassandra-pause"] as const;
export type BackendFaultKind = (typeof backendFaultKinds)[number];

/** Faults of the backends, each undone in a `finally` so no one else on the machine is left without them. */
export interface BackendFaults {
  /** Starts the fault; false when the same backend is still in an earlier one. */
  inject(kind: BackendFaultKind, ctx: FaultContext): Promise<boolean>;
  /** Waits for the faults under way, then makes sure Kafka answers, Cassandra runs and the private Redis is up. */
  heal(): Promise<void>;
  close(): Promise<void>;
}

/** Settings: which kinds will be injected, and the cluster's Redis URL (its key prefix is all a flush deletes). */
export interface BackendFaultsConfig {
  readonly kinds: readonly FaultKind[];
  readonly redisUrl: string;
  /** The redis-server the cluster runs on when the checker started its own: the only one redis-restart may kill. */
  readonly privateRedis?: PrivateRedis;
}

/**
 * Faults of the servers the cluster shares with everyone on this machine:
 * the Kafka broker restarted with scripts/infra/services.sh (stop, start,
 * wait), the Cassandra JVM frozen with SIGSTOP for 1-3 s, and this cluster's
 * Redis keys deleted (its prefix only: never FLUSHDB or FLUSHALL), and,
 * when the cluster runs on a Redis server of the checker's own, that server
 * killed with SIGKILL and started again empty on its port after 0.2-2 s.
 * Kafka and Cassandra must be the processes services.sh started from this
 * checkout (their pid files); checked up front, so a run never "restarts" a
 * broker it does not own and reports a fault that did not happen.
 */
export async function startBackendFaults(cfg: BackendFaultsConfig, deps: { readonly track: (fault: Promise<void>) => void }): Promise<BackendFaults> {
  if (cfg.kinds.includes("kafka-restart")) ownPid("kafka");
  if (cfg.kinds.includes("cassandra-pause")) ownPid("cassandra");
  const privateRedis = cfg.privateRedis;
  if (cfg.kinds.includes("redis-restart") && !privateRedis) throw new Error("redis-restart needs a Redis server of the checker's own");
  const redisConfig = parseRedisUrl(cfg.redisUrl);
  const prefix = redisConfig.keyPrefix;
  if (!prefix) throw new Error("redis-flush needs the cluster's key prefix in its REDIS_URL");
  const redis = cfg.kinds.includes("redis-flush") ? openRedisClient(redisConfig, { logger: pino({ level: "silent" }), role: "checker-faults" }) : undefined;
  let kafkaRestarting: Promise<void> | undefined;
  let cassandraPaused: Promise<void> | undefined;
  let redisRestarting: Promise<void> | undefined;

  const kafkaRestart = (ctx: FaultContext): boolean => {
    if (kafkaRestarting) return false;
    ctx.note("kafka-restart", "Kafka broker stopped and started again (services.sh stop, start, wait kafka)");
    // The broker is shared: should this process die before it restarts it, a watchdog in its own session does.
    const watchdog = detached(`sleep ${kafkaWatchdogMs / 1_000}; bash '${servicesScript}' start kafka`);
    kafkaRestarting = (async () => {
      try {
        await services("stop", "kafka");
      } finally {
        // It comes back whatever happened above.
        await ensureKafkaUp();
        watchdog.kill();
        kafkaRestarting = undefined;
      }
    })();
    deps.track(kafkaRestarting);
    return true;
  };

  const cassandraPause = (ctx: FaultContext): boolean => {
    if (cassandraPaused) return false;
    const pid = ownPid("cassandra");
    const pauseMs = ctx.prng.between(1_000, 3_000);
    ctx.note("cassandra-pause", `Cassandra JVM (pid ${pid}) frozen with SIGSTOP for ${pauseMs}ms`);
    // Should this process die during the pause, a watchdog in its own session still wakes Cassandra up.
    const watchdog = detached(`sleep ${(pauseMs + watchdogGraceMs) / 1_000}; kill -CONT ${pid}`);
    process.kill(pid, "SIGSTOP");
    cassandraPaused = (async () => {
      try {
        await Bun.sleep(pauseMs);
      } finally {
        process.kill(pid, "SIGCONT");
        watchdog.kill();
        cassandraPaused = undefined;
      }
    })();
    deps.track(cassandraPaused);
    return true;
  };

  const redisRestart = (server: PrivateRedis, ctx: FaultContext): boolean => {
    if (redisRestarting) return false;
    const downMs = ctx.prng.between(200, 2_000);
    ctx.note("redis-restart", `Redis server (pid ${server.pid}) killed with SIGKILL, started again empty after ${downMs}ms`);
    redisRestarting = (async () => {
      try {
        await server.kill();
        await Bun.sleep(downMs);
      } finally {
        await server.restart();
        redisRestarting = undefined;
      }
    })();
    deps.track(redisRestarting);
    return true;
  };

  const redisFlush = async (ctx: FaultContext): Promise<boolean> => {
    if (!redis) throw new Error("redis-flush was not among the configured kinds");
    // A server that is away has nothing to flush: the restart empties it anyway.
    if (redisRestarting) return false;
    ctx.note("redis-flush", `the cluster's Redis keys deleted (prefix ${prefix})`);
    await deleteKeysWithPrefix(redis, prefix);
    return true;
  };

  return {
    async inject(kind, ctx) {
      switch (kind) {
        case "kafka-restart":
          return kafkaRestart(ctx);
        case "cassandra-pause":
          return cassandraPause(ctx);
        case "redis-restart":
          return redisRestart(privateRedis!, ctx);
        case "redis-flush":
          return redisFlush(ctx);
      }
    },
    async heal() {
      await Promise.allSettled([kafkaRestarting, cassandraPaused, redisRestarting]);
      if (cfg.kinds.includes("kafka-restart")) await ensureKafkaUp();
      if (privateRedis && !privateRedis.running) await privateRedis.restart();
    },
    async close() {
      await Promise.allSettled([kafkaRestarting, cassandraPaused, redisRestarting]);
      if (redis) await closeRedisClient(redis);
    },
  };
}

/** The pid services.sh recorded for `service`, checked to still be that JVM; throws otherwise. */
function ownPid(service: keyof typeof mainClass): number {
  const runDir = process.env.INFRA_RUN_DIR ?? join(repoRoot, ".infra");
  const pidFile = join(runDir, service, "pid");
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : NaN;
  const cmdline = Number.isInteger(pid) && existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
  if (!cmdline.includes(mainClass[service])) {
    throw new Error(`${service} faults need the ${service} that scripts/infra/services.sh started from this checkout (no live ${mainClass[service]} behind ${pidFile})`);
  }
  return pid;
}

/** A shell command in its own session: it outlives this process, and a Ctrl-C to the checker does not reach it. */
function detached(command: string): { kill(): void } {
  const child = spawn("bash", ["-c", command], { cwd: repoRoot, detached: true, stdio: "ignore" });
  child.unref();
  // Its own process group: SIGTERM to the group ends the shell and its sleep at once, so the command never runs.
  return {
    kill() {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {
          // Already gone.
        }
      }
    },
  };
}

async function ensureKafkaUp(): Promise<void> {
  await services("start", "kafka");
  await services("wait", "kafka");
}

/** Runs `scripts/infra/services.sh <args>`; throws with its output when it fails. */
async function services(...args: string[]): Promise<void> {
  const proc = Bun.spawn(["bash", servicesScript, ...args], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`services.sh ${args.join(" ")} exited with ${code}:\n${out}\n${err}`);
}
