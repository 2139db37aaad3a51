import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createConnectTransport } from "@connectrpc/connect-node";
import { login, register, systemRuntime, type ReceiveMode } from "../client/index.ts";
import { startTcpProxy } from "../faults/index.ts";
import { createCheckDevice, type CheckDevice } from "./check-device.ts";
import type { HistoryConversation } from "./history.ts";
import type { HistoryRecorder } from "./history-recorder.ts";
import type { Prng } from "./prng.ts";
import type { UserCredentials } from "./server-state.ts";

/** Shape of the fleet. */
export interface FleetConfig {
  readonly users: number;
  readonly devicesPerUser: number;
  /** Conversations per user on average (capped by the number of pairs). */
  readonly conversationsPerUser: number;
  /** Where restartable devices keep their SQLite files. */
  readonly dataDir: string;
  /** Makes usernames unique when runs share a data directory. */
  readonly runId: string;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
}

/** A user of the fleet and its devices. */
export interface CheckUser extends UserCredentials {
  readonly username: string;
  readonly devices: readonly CheckDevice[];
  readonly conversationIds: string[];
}

/** Users, their devices (each behind its own proxy) and the conversations between them. */
export interface Fleet {
  readonly users: readonly CheckUser[];
  readonly devices: readonly CheckDevice[];
  readonly conversations: readonly HistoryConversation[];
  /** Stops every device and closes every proxy. */
  close(): Promise<void>;
}

const password = "checker password";

/**
 * Device d of user u: bidi on even d, subscribe (browser mode) on odd d;
 * SQLite file (restartable) when u + d is odd, memory otherwise, so both
 * modes meet both storages.
 */
const modeOf = (d: number): ReceiveMode => (d % 2 === 0 ? "bidi" : "subscribe");
const restartableAt = (u: number, d: number): boolean => (u + d) % 2 === 1;
/**
 * The gateway device d of user u starts on: a user's devices on different
 * gateways (pushes cross processes), and every gateway meeting both modes
 * and both storages.
 */
const gatewayAt = (u: number, d: number, gateways: number): number => (d + Math.floor(u / 2)) % gateways;

/** Pairs of user indexes: a ring first (everyone talks), then random chords. */
function choosePairs(users: number, perUser: number, prng: Prng): [number, number][] {
  const all = (users * (users - 1)) / 2;
  const target = Math.min(all, Math.max(1, Math.ceil((users * perUser) / 2)));
  const chosen = new Map<string, [number, number]>();
  const add = (a: number, b: number): void => {
    if (a === b || chosen.size >= target) return;
    const pair: [number, number] = a < b ? [a, b] : [b, a];
    chosen.set(pair.join(":"), pair);
  };
  for (let u = 0; u < users; u++) add(u, (u + 1) % users);
  for (let tries = 0; chosen.size < target && tries < all * 20; tries++) add(prng.int(users), prng.int(users));
  return [...chosen.values()];
}

/** Registers users, logs in and starts their devices, and opens the conversations. */
export async function createFleet(
  cfg: FleetConfig,
  deps: {
    /** Where users register and log in (straight to the server). */
    readonly serverUrl: string;
    /** Where device proxies forward (one port per gateway). */
    readonly gatewayPorts: readonly number[];
    readonly recorder: HistoryRecorder;
    readonly prng: Prng;
  },
): Promise<Fleet> {
  const direct = createConnectTransport({ baseUrl: deps.serverUrl, httpVersion: "1.1" });
  const storageDir = join(cfg.dataDir, "devices");
  mkdirSync(storageDir, { recursive: true });
  const users: CheckUser[] = [];
  for (let u = 0; u < cfg.users; u++) {
    const username = `chk_${cfg.runId}_u${u}`;
    const { userId } = await register(direct, username, password);
    const devices: CheckDevice[] = [];
    let token = "";
    for (let d = 0; d < cfg.devicesPerUser; d++) {
      const session = await login(direct, { username, password, deviceName: `checker-d${d}` });
      token ||= session.token;
      const port = deps.gatewayPorts[gatewayAt(u, d, deps.gatewayPorts.length)] as number;
      const proxy = await startTcpProxy({ host: "127.0.0.1", port });
      const device = createCheckDevice(
        {
          userId,
          username,
          deviceId: session.deviceId,
          token: session.token,
          mode: modeOf(d),
          ...(restartableAt(u, d) ? { storagePath: join(storageDir, `${username}-d${d}.sqlite`) } : {}),
          backoff: cfg.backoff,
        },
        { proxy, recorder: deps.recorder, runtime: { ...systemRuntime, random: deps.prng.fork().next } },
      );
      deps.recorder.addDevice({ deviceId: session.deviceId, userId });
      devices.push(device);
    }
    users.push({ userId, username, token, devices, conversationIds: [] });
  }
  const devices = users.flatMap((u) => u.devices);
  await Promise.all(devices.map((d) => d.start()));

  const conversations: HistoryConversation[] = [];
  for (const [a, b] of choosePairs(cfg.users, cfg.conversationsPerUser, deps.prng)) {
    const [ua, ub] = [users[a] as CheckUser, users[b] as CheckUser];
    const view = await ua.devices[0]?.use((c) => c.startConversation({ userId: ub.userId }));
    if (!view) throw new Error(`could not start a conversation between ${ua.username} and ${ub.username}`);
    const conversation: HistoryConversation = { conversationId: view.conversationId, userIds: [ua.userId, ub.userId] };
    conversations.push(conversation);
    deps.recorder.addConversation(conversation);
    ua.conversationIds.push(view.conversationId);
    ub.conversationIds.push(view.conversationId);
  }
  // Every device learns the conversation list, as an app does on start.
  await Promise.all(devices.map((d) => d.use((c) => c.refreshConversations())));

  return {
    users,
    devices,
    conversations,
    async close() {
      await Promise.all(devices.map((d) => d.stop()));
      await Promise.all(devices.map((d) => d.proxy.close()));
    },
  };
}
