import { startTestCluster, type ClusterProcess } from "../app/cluster/index.ts";
import { realBackends, startPrivateRedis, type PrivateRedis } from "../testkit/index.ts";
import { backendFaultKinds, startBackendFaults, type BackendFaultKind } from "./backend-faults.ts";
import type { CheckDevice } from "./check-device.ts";
import type { Deployment } from "./deployment.ts";
import type { FaultContext, FaultKind, ServerFaults } from "./fault-injector.ts";

/** Shape and tuning of the cluster. */
export interface ClusterDeploymentConfig {
  readonly gateways: number;
  readonly workers: number;
  readonly partitions: number;
  readonly heartbeatIntervalMs: number;
  /** Longest time a killed gateway or worker stays down. */
  readonly maxProcessDownMs: number;
  readonly kinds: readonly FaultKind[];
}

/** A gateway or worker process and what the faults did to it. */
interface Supervised {
  readonly proc: ClusterProcess;
  /** Killed (by a fault, or it died) and not yet running again. */
  down: boolean;
  /** Bumped on every launch that became ready: the exit of an older run is not news. */
  run: number;
}

const relaunchAttempts = 20;
const relaunchPauseMs = 1_000;

/**
 * A test cluster (`cmd/gateway` and `cmd/worker` processes on the real
 * Kafka, Cassandra and Redis; fresh topic, keyspace and key prefix, removed
 * at the end) with its faults: `worker-kill` and `gateway-kill` SIGKILL a
 * process and start it again (same id and port) after up to
 * `maxProcessDownMs`; the backend kinds are in backend-faults.ts (with
 * redis-restart among the kinds, the cluster runs on a redis-server of its
 * own instead of the shared one). These
 * faults run on their own timers, so they overlap each other and the device
 * faults; one gateway always stays up, for the devices to move to. A
 * process that exits by itself is counted, reported and started again, as a
 * supervisor would.
 */
export async function startClusterDeployment(
  cfg: ClusterDeploymentConfig,
  deps: {
    readonly progress: (line: string) => void;
    /** Records an event in the history (a process that died by itself), as evidence for what follows. */
    readonly record: (description: string) => void;
  },
): Promise<Deployment> {
  const backends = realBackends({
    CHAT_TEST_KAFKA: "127.0.0.1:19092",
    CHAT_TEST_CASSANDRA: "127.0.0.1:19042",
    // DB 7 and the cluster's own key prefix: the Redis server is shared.
    CHAT_TEST_REDIS: "redis://127.0.0.1:6379/7",
    ...process.env,
  });
  if (!backends.kafka || !backends.cassandra || !backends.redis) throw new Error("distributed mode needs Kafka, Cassandra and Redis");
  // The shared Redis serves others: a run that restarts Redis gets a server of its own.
  const privateRedis: PrivateRedis | undefined = cfg.kinds.includes("redis-restart") ? await startPrivateRedis() : undefined;
  if (privateRedis) deps.progress(`redis-restart: the cluster runs on a private redis-server at ${privateRedis.url}`);
  const cluster = await startTestCluster(
    { kafka: backends.kafka, cassandra: backends.cassandra, redis: privateRedis ? { url: privateRedis.url } : backends.redis },
    {
      gateways: cfg.gateways,
      workers: cfg.workers,
      partitions: cfg.partitions,
      // The broker's minimum session timeout: a killed worker's partitions move after ~6 s.
      logParams: { sessionTimeoutMs: "6000", heartbeatIntervalMs: "500" },
      env: {
        HEARTBEAT_INTERVAL_MS: String(cfg.heartbeatIntervalMs),
        IDLE_TIMEOUT_MS: String(cfg.heartbeatIntervalMs * 3),
        // Routes, presence and the gateway registry are rewritten every second, so a Redis flush heals quickly.
        ROUTE_TTL_MS: "3000",
        GATEWAY_REGISTRY_TTL_MS: "3000",
        PRESENCE_TTL_MS: "3000",
        PRESENCE_REFRESH_MS: "1000",
      },
    },
  ).catch(async (err: unknown) => {
    await privateRedis?.stop();
    throw err;
  });
  const failures: unknown[] = [];
  const inFlight = new Set<Promise<void>>();
  const track = (fault: Promise<void>): void => {
    const settled = fault.catch((err: unknown) => void failures.push(err));
    inFlight.add(settled);
    void settled.then(() => inFlight.delete(settled));
  };
  let unexpectedExits = 0;
  const supervise = (proc: ClusterProcess): Supervised => {
    const s: Supervised = { proc, down: false, run: 0 };
    watch(s);
    return s;
  };
  const watch = (s: Supervised): void => {
    const run = ++s.run;
    void s.proc.exited.then((code) => {
      if (s.run !== run || s.down) return;
      unexpectedExits++;
      deps.record(`${s.proc.name} exited by itself (code ${code}); started again`);
      deps.progress(`${s.proc.name} exited by itself (code ${code}); starting it again. Its last output:\n${s.proc.output().slice(-3_000)}`);
      s.down = true;
      track(relaunch(s));
    });
  };
  /** Starts the process again; retried, since it cannot start while Kafka is down. */
  const relaunch = async (s: Supervised): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await s.proc.restart();
        s.down = false;
        watch(s);
        return;
      } catch (err) {
        s.proc.kill("SIGKILL");
        await s.proc.exited;
        if (attempt >= relaunchAttempts) throw new Error(`${s.proc.name} did not start again after ${attempt} attempts: ${String(err)}`);
        await Bun.sleep(relaunchPauseMs);
      }
    }
  };
  const gateways = cluster.gateways.map(supervise);
  const workers = cluster.workers.map(supervise);
  const backendFaults = await startBackendFaults(
    { kinds: cfg.kinds, redisUrl: cluster.env.REDIS_URL as string, ...(privateRedis ? { privateRedis } : {}) },
    { track },
  ).catch(async (err: unknown) => {
    await cluster.destroy();
    await privateRedis?.stop();
    throw err;
  });

  const drain = async (): Promise<void> => {
    // A relaunch after an unexpected exit can join while waiting: bounded rounds.
    for (let round = 0; round < 100 && inFlight.size > 0; round++) await Promise.all([...inFlight]);
  };

  const faults = (devices: readonly CheckDevice[]): ServerFaults => {
    // Where each device's proxy forwards when every gateway is up.
    const home = new Map(devices.map((d) => [d, d.proxy.target.port]));
    const goHome = (d: CheckDevice): void => d.proxy.setTarget({ host: "127.0.0.1", port: home.get(d) as number });

    /** SIGKILL, then back after `downMs` (tracked, so heal waits for it); `then` runs once it is back. */
    const killFor = (victim: Supervised, downMs: number, then: () => void = () => undefined): void => {
      victim.down = true;
      victim.proc.kill("SIGKILL");
      track(
        (async () => {
          await victim.proc.exited;
          await Bun.sleep(downMs);
          await relaunch(victim);
          then();
        })(),
      );
    };

    const killWorker = ({ prng, note }: FaultContext): boolean => {
      const up = workers.filter((w) => !w.down);
      if (up.length === 0) return false;
      const victim = prng.pick(up);
      const downMs = prng.between(0, cfg.maxProcessDownMs);
      note("worker-kill", `SIGKILL ${victim.proc.name}, down ${downMs}ms`);
      killFor(victim, downMs);
      return true;
    };

    const killGateway = (ctx: FaultContext): boolean => {
      const up = gateways.filter((g) => !g.down);
      // One gateway stays up: the devices need somewhere to go.
      if (up.length < 2) return false;
      const victim = ctx.prng.pick(up);
      const survivors = up.filter((g) => g !== victim);
      const downMs = ctx.prng.between(Math.min(500, cfg.maxProcessDownMs), cfg.maxProcessDownMs);
      const moved = devices.filter((d) => d.proxy.target.port === victim.proc.port);
      const to = ctx.prng.pick(survivors);
      ctx.note("gateway-kill", `SIGKILL ${victim.proc.name}, down ${downMs}ms; its ${moved.length} devices move to ${to.proc.name}`);
      // The load balancer sends new connections to a survivor; the live ones die with the process.
      for (const d of moved) d.proxy.setTarget({ host: "127.0.0.1", port: to.proc.port });
      // Back in the pool, it gets its devices back: their connections are cut (as a load balancer
      // rebalancing would), so every gateway kill moves devices twice. One in a network fault just
      // follows at its next connection (its fault ends with a reset).
      killFor(victim, downMs, () => {
        for (const d of devices.filter((x) => home.get(x) === victim.proc.port)) {
          goHome(d);
          if (ctx.inNetworkFault(d)) continue;
          d.proxy.setMode("down");
          d.proxy.setMode("pass");
        }
      });
      return true;
    };

    return {
      async inject(kind, ctx) {
        if (kind === "worker-kill") return killWorker(ctx);
        if (kind === "gateway-kill") return killGateway(ctx);
        if ((backendFaultKinds as readonly string[]).includes(kind)) return backendFaults.inject(kind as BackendFaultKind, ctx);
        throw new Error(`${kind} cannot be injected in distributed mode`);
      },
      async heal() {
        await drain();
        await backendFaults.heal();
        for (const s of [...workers, ...gateways]) if (s.down) track(relaunch(s));
        await drain();
        for (const d of devices) goHome(d);
        if (failures.length > 0) throw new AggregateError(failures, `distributed faults failed: ${failures.map(String).join("; ")}`);
      },
    };
  };

  return {
    url: cluster.gateways[0]?.url as string,
    gatewayPorts: cluster.gateways.map((g) => g.port),
    faults: (fleet) => faults(fleet.devices),
    unexpectedExits: () => unexpectedExits,
    async stop() {
      await drain();
      await backendFaults.close();
      // No exit from here on is news.
      for (const s of [...workers, ...gateways]) s.down = true;
      await cluster.destroy();
      await privateRedis?.stop();
    },
  };
}
