import type { FaultKind, ServerFaults } from "./fault-injector.ts";
import type { Fleet } from "./fleet.ts";
import { startProcessServer } from "./process-server.ts";
import { startServerHandle, type ServerHandle } from "./server-handle.ts";

/**
 * What the checker's fleet talks to: the embedded server, or a cluster of
 * gateway and worker processes (cluster-deployment.ts). The run, the
 * workload and the verdict are the same for both; only the server-side
 * faults differ.
 */
export interface Deployment {
  /** Where the checker itself calls the API (registration, quiescence, end state); up again once healed. */
  readonly url: string;
  /** Where the devices' proxies forward; device d of user u starts on `gatewayPorts[(d + floor(u / 2)) % length]`. */
  readonly gatewayPorts: readonly number[];
  /** The server-side faults, acting on `fleet` where a fault moves devices (a dead gateway's to another). */
  faults(fleet: Fleet): ServerFaults;
  /** Server processes that exited without being killed by a fault (a cluster supervises and restarts them). */
  unexpectedExits(): number;
  stop(): Promise<void>;
}

/** Settings of the embedded deployment. */
export interface EmbeddedDeploymentConfig {
  readonly dataDir: string;
  readonly heartbeatIntervalMs: number;
  /** Longest time a restarted or crashed server stays down. */
  readonly maxDownMs: number;
  readonly kinds: readonly FaultKind[];
}

/**
 * The embedded server, with `server-restart` (drain and stop) and
 * `server-crash` (SIGKILL) faults, each over before the next fault starts.
 */
export async function startEmbeddedDeployment(cfg: EmbeddedDeploymentConfig): Promise<Deployment> {
  const serverConfig = { dataDir: cfg.dataDir, heartbeatIntervalMs: cfg.heartbeatIntervalMs };
  // Only a server in its own process can be killed mid-write; otherwise keep it in-process (cheaper, one event loop).
  const server: ServerHandle = cfg.kinds.includes("server-crash") ? await startProcessServer(serverConfig) : await startServerHandle(serverConfig);
  const faults: ServerFaults = {
    async inject(kind, { prng, note }) {
      const downMs = prng.between(0, cfg.maxDownMs);
      if (kind === "server-restart") {
        note("server-restart", `server restart, down ${downMs}ms`);
        await server.restart(downMs);
      } else if (kind === "server-crash") {
        if (!server.crash) throw new Error("server-crash needs a server in its own process");
        note("server-crash", `server crash (SIGKILL), down ${downMs}ms`);
        await server.crash(downMs);
      } else throw new Error(`${kind} cannot be injected in embedded mode`);
      return true;
    },
    heal: () => server.ensureUp(),
  };
  return {
    url: server.url,
    gatewayPorts: [server.port],
    faults: () => faults,
    unexpectedExits: () => 0,
    stop: () => server.stop(),
  };
}
