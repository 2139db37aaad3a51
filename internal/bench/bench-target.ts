import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestCluster } from "../app/cluster/index.ts";
import { realBackends } from "../testkit/index.ts";
import type { BenchOptions } from "./bench-options.ts";
import { findBackendProcesses, type WatchedProcess } from "./proc-stats.ts";

const ROOT = join(import.meta.dir, "../..");

/** The servers under load. */
export interface BenchTarget {
  /** Gateway URLs; devices are spread over them. */
  readonly urls: readonly string[];
  /** Our server processes (their CPU is what a message costs). */
  readonly servers: readonly WatchedProcess[];
  /** Kafka, Cassandra and Redis in distributed mode (shared with others). */
  readonly backends: readonly WatchedProcess[];
  stop(): Promise<void>;
}

/**
 * Server settings every scenario needs: per-device rate limits far above the
 * offered load (the bench measures the server, not its limiter) and quiet logs.
 */
export const benchServerEnv: Record<string, string> = {
  SEND_RATE_PER_SEC: "1000000",
  SEND_BURST: "1000000",
  LOG_LEVEL: "warn",
};

/** Starts (or adopts, in external mode) the servers the options name. */
export async function startBenchTarget(options: BenchOptions, extraEnv: Record<string, string>): Promise<BenchTarget> {
  const env = { ...benchServerEnv, ...extraEnv };
  if (options.mode === "external") {
    return {
      urls: options.urls,
      servers: options.pids.map((pid) => ({ name: `server-${pid}`, role: "server" as const, pid })),
      backends: [],
      stop: async () => undefined,
    };
  }
  if (options.mode === "embedded") return startEmbeddedProcess(env, options.serverCpuProfDir);
  return startDistributed(options, env);
}

/** bun's flags for a CPU profile of a server process, written into `dir` when it exits. */
const cpuProfArgs = (dir: string | undefined): string[] =>
  dir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${dir}`] : [];

/** SIGTERM (a drain, and bun writes its CPU profile), then SIGKILL after 30 s. */
async function stopGently(proc: { kill(signal?: NodeJS.Signals): void; readonly exited: Promise<number> }): Promise<void> {
  proc.kill("SIGTERM");
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(30_000).then(() => false)]);
  if (!exited) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
}

async function startEmbeddedProcess(env: Record<string, string>, cpuProfDir: string | undefined): Promise<BenchTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-bench-"));
  const child = Bun.spawn([process.execPath, ...cpuProfArgs(cpuProfDir), join(ROOT, "cmd/server/main.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      AUTH_SECRET: "bench-secret-bench-secret-bench-secret-0123",
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const port = await waitForListening(child, 30_000);
  const url = `http://127.0.0.1:${port}`;
  return {
    urls: [url],
    servers: [{ name: "server", role: "server", pid: child.pid, metricsUrl: url }],
    backends: [],
    async stop() {
      await stopGently(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads the child's output until it prints its port; keeps draining it afterwards so its pipes never fill. */
async function waitForListening(child: Bun.Subprocess<"ignore", "pipe", "pipe">, timeoutMs: number): Promise<number> {
  let out = "";
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not listening after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const pump = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        // Keep only the tail: a long run's warnings must not grow memory here.
        out = (out + decoder.decode(chunk)).slice(-20_000);
        const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      }
    };
    void pump(child.stdout);
    void pump(child.stderr);
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
}

async function startDistributed(options: BenchOptions, env: Record<string, string>): Promise<BenchTarget> {
  const found = realBackends({
    CHAT_TEST_KAFKA: "127.0.0.1:19092",
    CHAT_TEST_CASSANDRA: "127.0.0.1:19042",
    // DB 7 with the cluster's unique key prefix: the Redis server is shared.
    CHAT_TEST_REDIS: "redis://127.0.0.1:6379/7",
    ...process.env,
  });
  if (!found.kafka || !found.cassandra || !found.redis) throw new Error("distributed mode needs Kafka, Cassandra and Redis");
  const cluster = await startTestCluster(
    { kafka: found.kafka, cassandra: found.cassandra, redis: found.redis },
    {
      gateways: options.gateways,
      workers: options.workers,
      partitions: options.partitions,
      env,
      runtimeArgs: cpuProfArgs(options.serverCpuProfDir),
    },
  );
  return {
    urls: cluster.gateways.map((g) => g.url),
    servers: [
      ...cluster.gateways.map((g) => ({ name: g.name, role: "gateway" as const, pid: g.pid, metricsUrl: g.url })),
      ...cluster.workers.map((w) => ({ name: w.name, role: "worker" as const, pid: w.pid, metricsUrl: w.url })),
    ],
    backends: findBackendProcesses(),
    async stop() {
      if (options.serverLogDir) {
        mkdirSync(options.serverLogDir, { recursive: true });
        for (const p of [...cluster.gateways, ...cluster.workers]) writeFileSync(join(options.serverLogDir, `${p.name}.log`), p.output());
      }
      // Profiled processes must exit by themselves to write their profiles.
      if (options.serverCpuProfDir) await Promise.all([...cluster.gateways, ...cluster.workers].map(stopGently));
      await cluster.destroy();
    },
  };
}
