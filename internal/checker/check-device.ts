import { Agent } from "node:http";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  createChatClient,
  createMemoryStorage,
  type ChatClient,
  type ClientRuntime,
  type ClientStorage,
  type ReceiveMode,
} from "../client/index.ts";
import { createSqliteStorage } from "../client/sqlite/index.ts";
import type { TcpProxy } from "../faults/index.ts";
import type { HistoryRecorder } from "./history-recorder.ts";

/** Identity and setup of one device of the fleet. */
export interface CheckDeviceConfig {
  readonly userId: string;
  readonly username: string;
  readonly deviceId: string;
  readonly token: string;
  readonly mode: ReceiveMode;
  /** SQLite file of a restartable device; memory storage when absent. */
  readonly storagePath?: string;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
}

/** A device: an SDK client behind its own fault proxy, restartable from its file. */
export interface CheckDevice {
  readonly deviceId: string;
  readonly userId: string;
  readonly mode: ReceiveMode;
  readonly restartable: boolean;
  readonly proxy: TcpProxy;
  /** The running client; undefined while the device is down (restarting or stopped). */
  client(): ChatClient | undefined;
  storage(): ClientStorage | undefined;
  /** Runs `use` with the client unless the device is down; a restart waits for it to finish. */
  use<T>(use: (client: ChatClient) => T | Promise<T>): Promise<T | undefined>;
  start(): Promise<void>;
  /** Stops the client and closes the storage (the process ends). */
  stop(): Promise<void>;
  /** Stops, stays down for `offlineMs`, and starts a new client from the same file, as a new process would. */
  restart(offlineMs: number): Promise<void>;
}

interface Incarnation {
  readonly client: ChatClient;
  readonly storage: ClientStorage;
  readonly stopper: AbortController;
  readonly running: Promise<void>;
  readonly detach: () => void;
  readonly closeTransport: () => void;
}

/**
 * A connection pool per incarnation: a restarted process opens new
 * connections, and closing the old pool releases its sockets at once.
 */
function transportFor(url: string, mode: ReceiveMode): { transport: Transport; close: () => void } {
  if (mode === "bidi") {
    const sessionManager = new Http2SessionManager(url);
    return { transport: createGrpcTransport({ baseUrl: url, sessionManager }), close: () => sessionManager.abort() };
  }
  const agent = new Agent({ keepAlive: true });
  return {
    transport: createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { agent } }),
    close: () => agent.destroy(),
  };
}

/** Creates a device (not started) whose client talks to the server through `proxy`. */
export function createCheckDevice(
  cfg: CheckDeviceConfig,
  deps: { readonly proxy: TcpProxy; readonly recorder: HistoryRecorder; readonly runtime: ClientRuntime },
): CheckDevice {
  const memory = cfg.storagePath === undefined ? createMemoryStorage() : undefined;
  let current: Incarnation | undefined;
  let inUse = 0;
  let idle: (() => void) | undefined;

  async function start(): Promise<void> {
    if (current) return;
    const storage = memory ?? createSqliteStorage({ path: cfg.storagePath as string });
    // A new process knows who it is from its file only.
    const saved = await storage.getDevice();
    if (!saved) await storage.putDevice({ userId: cfg.userId, username: cfg.username, deviceId: cfg.deviceId, token: cfg.token });
    const token = saved?.token ?? cfg.token;
    const { transport, close } = transportFor(deps.proxy.url, cfg.mode);
    const client = await createChatClient(
      { userId: cfg.userId, token, mode: cfg.mode, clientInfo: "checker", backoff: cfg.backoff },
      { transport, storage, runtime: deps.runtime },
    );
    const detach = deps.recorder.attach(cfg.deviceId, client);
    const stopper = new AbortController();
    current = { client, storage, stopper, running: client.run(stopper.signal), detach, closeTransport: close };
  }

  async function stop(): Promise<void> {
    const incarnation = current;
    if (!incarnation) return;
    current = undefined;
    // Let in-flight driver calls (a send writing its outbox row) finish first.
    if (inUse > 0) await new Promise<void>((resolve) => (idle = resolve));
    incarnation.stopper.abort();
    await incarnation.running;
    incarnation.detach();
    incarnation.closeTransport();
    if (!memory) await incarnation.storage.close();
  }

  return {
    deviceId: cfg.deviceId,
    userId: cfg.userId,
    mode: cfg.mode,
    restartable: memory === undefined,
    proxy: deps.proxy,
    client: () => current?.client,
    storage: () => current?.storage,
    async use(fn) {
      const incarnation = current;
      if (!incarnation) return undefined;
      inUse++;
      try {
        return await fn(incarnation.client);
      } finally {
        inUse--;
        if (inUse === 0) idle?.();
        idle = inUse === 0 ? undefined : idle;
      }
    },
    start,
    stop,
    async restart(offlineMs) {
      if (memory) throw new Error(`device ${cfg.deviceId} keeps its state in memory and cannot restart`);
      await stop();
      await Bun.sleep(offlineMs);
      await start();
    },
  };
}
