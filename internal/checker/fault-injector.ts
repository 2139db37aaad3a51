import type { CheckDevice } from "./check-device.ts";
import type { Fleet } from "./fleet.ts";
import type { HistoryRecorder } from "./history-recorder.ts";
import type { Prng } from "./prng.ts";
import { sleepUnlessAborted } from "../domain/index.ts";

/**
 * Fault families the checker can inject. `proxy` and `restart` hit one
 * device; the others hit the server side: `server-restart` and
 * `server-crash` the embedded server, the rest the processes and backends
 * of a distributed cluster.
 */
export type FaultKind =
  | "proxy"
  | "restart"
  | "server-restart"
  | "server-crash"
  | "worker-kill"
  | "gateway-kill"
  | "kafka-restart"
  | "redis-flush"
  | "redis-restart"
  | "cassandra-pause";
/** The embedded mode's kinds (its default). */
export const faultKinds: readonly FaultKind[] = ["proxy", "restart", "server-restart", "server-crash"];
/** The distributed mode's kinds (its default). */
export const distributedFaultKinds: readonly FaultKind[] = [
  "proxy",
  "restart",
  "worker-kill",
  "gateway-kill",
  "kafka-restart",
  "redis-flush",
  "redis-restart",
  "cassandra-pause",
];
export const allFaultKinds: readonly FaultKind[] = [...new Set([...faultKinds, ...distributedFaultKinds])];

/** When and how hard faults hit. */
export interface FaultConfig {
  readonly kinds: readonly FaultKind[];
  /** Random (seeded) kinds, or each kind in turn (so a short run meets every one). */
  readonly order: "random" | "cycle";
  /** Mean time between faults (each wait is uniform in 0.5x..1.5x). */
  readonly everyMs: number;
  /** Longest network fault on one device. */
  readonly maxNetworkFaultMs: number;
  /** Longest time a restarted device stays down. */
  readonly maxDownMs: number;
}

/** What a server-side fault may use from the injector. */
export interface FaultContext {
  readonly prng: Prng;
  /** Counts the fault under `name` and records `description` in the history. */
  note(name: string, description: string): void;
  /** The device's proxy is in a network fault right now (leave its mode alone). */
  inNetworkFault(device: CheckDevice): boolean;
}

/** The server side's faults; the deployment (embedded server or cluster) carries them out. */
export interface ServerFaults {
  /**
   * Injects one fault of `kind`. Resolves once it is over (an embedded
   * server restart) or, for a fault that runs on its own timers (a cluster
   * process down for a while), once it has started; false when its target is
   * still in an earlier fault (the injector then cuts a device's network instead).
   */
  inject(kind: FaultKind, ctx: FaultContext): Promise<boolean>;
  /** Waits for the faults under way to end, then brings every component back up. */
  heal(): Promise<void>;
}

/** Injects faults until stopped, then heals everything. */
export interface FaultInjector {
  /** Injects faults until `signal` aborts (the fault in progress completes). */
  run(signal: AbortSignal): Promise<void>;
  /** Ends every network fault, and brings the server side back up. */
  heal(): Promise<void>;
  /** Faults injected so far, by name (down, blackhole, delay, restart, server-restart, worker-kill, ...). */
  counts(): Record<string, number>;
}

type NetworkFault = "down" | "blackhole" | "delay";

/**
 * One fault at a time is started; network faults then run on their own
 * timers, so several devices can be cut off together. A blackhole or a delay
 * ends with a connection reset: the proxy drops bytes for good in a blackhole
 * and delays chunks with per-chunk timers, so resuming a connection after
 * either would corrupt or reorder its byte stream (no real network does
 * that); a dead connection being reset after a silence is what phones see.
 */
export function createFaultInjector(
  cfg: FaultConfig,
  deps: { readonly fleet: Fleet; readonly server: ServerFaults; readonly recorder: HistoryRecorder; readonly prng: Prng },
): FaultInjector {
  const { fleet, server, recorder, prng } = deps;
  const counts: Record<string, number> = {};
  const active = new Map<CheckDevice, { kind: NetworkFault; cancel: () => void }>();

  const count = (name: string, description: string): void => {
    counts[name] = (counts[name] ?? 0) + 1;
    recorder.fault(description);
  };

  const endNetworkFault = (device: CheckDevice): void => {
    const fault = active.get(device);
    if (!fault) return;
    active.delete(device);
    fault.cancel();
    if (fault.kind !== "down") device.proxy.setMode("down");
    device.proxy.setDelayMs(0);
    device.proxy.setMode("pass");
  };

  const networkFault = (): void => {
    const healthy = fleet.devices.filter((d) => !active.has(d));
    if (healthy.length === 0) return;
    const device = prng.pick(healthy);
    const kind = prng.pick<NetworkFault>(["down", "blackhole", "delay"]);
    const forMs = prng.between(100, cfg.maxNetworkFaultMs);
    if (kind === "delay") {
      const delayMs = prng.between(20, 400);
      device.proxy.setDelayMs(delayMs);
      count(kind, `delay ${delayMs}ms on ${device.deviceId} for ${forMs}ms`);
    } else {
      device.proxy.setMode(kind);
      count(kind, `${kind} on ${device.deviceId} for ${forMs}ms`);
    }
    const timer = setTimeout(() => endNetworkFault(device), forMs);
    active.set(device, { kind, cancel: () => clearTimeout(timer) });
  };

  const deviceRestart = async (): Promise<boolean> => {
    const candidates = fleet.devices.filter((d) => d.restartable && d.client() !== undefined);
    if (candidates.length === 0) return false;
    const device = prng.pick(candidates);
    const downMs = prng.between(0, cfg.maxDownMs);
    count("restart", `restart of ${device.deviceId}, down ${downMs}ms`);
    await device.restart(downMs);
    return true;
  };

  const context: FaultContext = { prng, note: count, inNetworkFault: (device) => active.has(device) };

  return {
    async run(signal) {
      if (cfg.kinds.length === 0) return;
      // Bounded by count as well as by the signal.
      for (let i = 0; i < 1_000_000 && !signal.aborted; i++) {
        await sleepUnlessAborted(cfg.everyMs * (0.5 + prng.next()), signal);
        if (signal.aborted) return;
        const kind = cfg.order === "cycle" ? (cfg.kinds[i % cfg.kinds.length] as FaultKind) : prng.pick(cfg.kinds);
        if (kind === "proxy") networkFault();
        else if (kind === "restart") {
          if (!(await deviceRestart())) networkFault();
        } else if (!(await server.inject(kind, context))) networkFault();
      }
    },
    async heal() {
      for (const device of [...active.keys()]) endNetworkFault(device);
      await server.heal();
    },
    counts: () => ({ ...counts }),
  };
}
