import { createPlainKafkaClient } from "../../log/kafka/index.ts";
import cassandra from "cassandra-driver";
import pino from "pino";
import { join } from "node:path";
import { migrateCassandra, parseCassandraUrl } from "../../store/cassandra/index.ts";
import { closeRedisClient, deleteKeysWithPrefix, openRedisClient, parseRedisUrl } from "../../routing/redis/index.ts";
import { freePort, type RealBackends } from "../../testkit/index.ts";

const ROOT = join(import.meta.dir, "../../..");
const silent = pino({ level: "silent" });

/** One spawned `cmd/gateway` or `cmd/worker` process. */
export interface ClusterProcess {
  readonly name: string;
  readonly role: "gateway" | "worker";
  /** Public URL (gateways), health and metrics URL (workers). Stable across restarts: the port is kept. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
  /** Starts the process again with the same name, id and port (after it exited). */
  restart(): Promise<void>;
  /** Its stdout+stderr so far (for failure messages). */
  output(): string;
}

/**
 * A distributed deployment on this machine for tests: N gateway and M worker
 * processes sharing a fresh Kafka topic, Cassandra keyspace and Redis key
 * prefix (all removed by `destroy`).
 */
export interface TestCluster {
  readonly gateways: ClusterProcess[];
  readonly workers: ClusterProcess[];
  /** The environment every process gets (URLs, secret, tuning). */
  readonly env: Record<string, string>;
  addGateway(extraEnv?: Record<string, string>): Promise<ClusterProcess>;
  addWorker(extraEnv?: Record<string, string>): Promise<ClusterProcess>;
  destroy(): Promise<void>;
}

export interface ClusterOptions {
  readonly gateways: number;
  readonly workers: number;
  readonly partitions?: number;
  /** Extra variables for every process (e.g. PRESENCE_GRACE_MS). */
  readonly env?: Record<string, string>;
  /** Extra LOG_URL query parameters (e.g. sessionTimeoutMs for a quicker failover). */
  readonly logParams?: Record<string, string>;
  /** Extra arguments for the runtime before the script (e.g. bun's --cpu-prof flags). */
  readonly runtimeArgs?: readonly string[];
}

export async function startTestCluster(
  backends: Required<Pick<RealBackends, "kafka" | "cassandra" | "redis">>,
  opts: ClusterOptions,
): Promise<TestCluster> {
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
  const topic = `msgs_${id}`;
  const keyspace = `chat_${id}`;
  const prefix = `cl${id}:`;
  const storeUrl = `cassandra://${backends.cassandra.contactPoints.join(",")}/${keyspace}`;
  // Migrate once here: processes starting together must not race on the schema.
  await migrateCassandra(parseCassandraUrl(storeUrl));
  const env: Record<string, string> = {
    LOG_URL: `kafka://${backends.kafka.brokers.join(",")}?${new URLSearchParams({ topic, partitions: String(opts.partitions ?? 6), ...opts.logParams })}`,
    STORE_URL: storeUrl,
    REDIS_URL: `${backends.redis.url}${backends.redis.url.includes("?") ? "&" : "?"}prefix=${prefix}`,
    AUTH_SECRET: "cluster-test-secret-cluster-test-secret",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    WORKER_GROUP: `workers_${id}`,
    DRAIN_TIMEOUT_MS: "2000",
    ...opts.env,
  };
  const procs: ClusterProcess[] = [];
  // Every consumer group a process joined (a test may start workers in groups of their own).
  const groups = new Set([env.WORKER_GROUP!]);
  let n = 0;

  async function spawn(role: "gateway" | "worker", extra: Record<string, string> = {}): Promise<ClusterProcess> {
    const name = `${role}-${++n}`;
    let port = 0;
    let child: ReturnType<typeof Bun.spawn> | undefined;
    let out = "";
    let exited: Promise<number> = Promise.resolve(0);
    const launch = async () => {
      // A worker serves /healthz and /metrics on a port of its own, kept across restarts.
      if (role === "worker" && port === 0) port = await freePort();
      const procEnv = {
        ...process.env,
        ...env,
        ...extra,
        PORT: String(port),
        ...(role === "worker" ? { WORKER_HTTP_PORT: String(port) } : {}),
        HOST: "127.0.0.1",
        GATEWAY_ID: name,
        WORKER_ID: name,
        DATA_DIR: `/tmp/${id}-${name}`,
      };
      child = Bun.spawn([process.execPath, ...(opts.runtimeArgs ?? []), join(ROOT, `cmd/${role}/main.ts`)], {
        env: procEnv,
        stdout: "pipe",
        stderr: "pipe",
        cwd: ROOT,
      });
      exited = child.exited;
      // Only this run's output counts: `out` spans every run, and a restart must not take the last run's ready line.
      const from = out.length;
      const ready = role === "gateway" ? /listening on http:\/\/[\d.]+:(\d+)/ : /running \(worker\)/;
      const found = new Promise<void>((resolve, reject) => {
        const pump = async (stream: ReadableStream<Uint8Array>) => {
          const reader = stream.getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            out += new TextDecoder().decode(value);
            const m = ready.exec(out.slice(from));
            if (m) {
              if (m[1]) port = Number(m[1]);
              resolve();
            }
          }
        };
        void pump(child!.stdout as ReadableStream<Uint8Array>);
        void pump(child!.stderr as ReadableStream<Uint8Array>);
        void child!.exited.then((code) => reject(new Error(`${name} exited with ${code} before ready:\n${out}`)));
        setTimeout(() => reject(new Error(`${name} not ready after 30 s:\n${out}`)), 30_000);
      });
      await found;
    };
    await launch();
    const p: ClusterProcess = {
      name,
      role,
      get url() {
        return `http://127.0.0.1:${port}`;
      },
      get port() {
        return port;
      },
      get pid() {
        return child!.pid;
      },
      get exited() {
        return exited;
      },
      kill(signal = "SIGTERM") {
        child?.kill(signal);
      },
      async restart() {
        await exited;
        await launch();
      },
      output: () => out,
    };
    procs.push(p);
    return p;
  }

  const cluster: TestCluster = {
    gateways: [],
    workers: [],
    env,
    async addGateway(extra) {
      const g = await spawn("gateway", extra);
      cluster.gateways.push(g);
      return g;
    },
    async addWorker(extra) {
      if (extra?.WORKER_GROUP) groups.add(extra.WORKER_GROUP);
      const w = await spawn("worker", extra);
      cluster.workers.push(w);
      return w;
    },
    async destroy() {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
      const admin = createPlainKafkaClient(backends.kafka.brokers, "cluster-cleanup").admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.deleteGroups([...groups]).catch(() => undefined);
      await admin.disconnect();
      const cql = new cassandra.Client({
        contactPoints: [...backends.cassandra.contactPoints],
        localDataCenter: backends.cassandra.localDataCenter,
        protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
      });
      await cql.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => undefined);
      await cql.shutdown();
      const redis = openRedisClient(parseRedisUrl(backends.redis.url), { logger: silent, role: "cleanup" });
      await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
      await closeRedisClient(redis);
    },
  };
  try {
    // Workers first: the group forms while gateways boot.
    await Promise.all(Array.from({ length: opts.workers }, () => cluster.addWorker()));
    await Promise.all(Array.from({ length: opts.gateways }, () => cluster.addGateway()));
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  return cluster;
}
