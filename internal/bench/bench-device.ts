import { connect as netConnect } from "node:net";
import type { Transport } from "@connectrpc/connect";
import {
  createChatClient,
  createMemoryStorage,
  login,
  register,
  type ChatClient,
  type ChatEvent,
  type ClientStorage,
} from "../client/index.ts";
import { createNativeTransport } from "../client/node/index.ts";

/** Password of every bench account. */
const password = "bench password 0123";

/** How a bench device reaches its gateway. */
export interface DeviceLink {
  readonly url: string;
  /** Local address to connect from (127.0.0.x), to get past one address's ephemeral ports. */
  readonly sourceAddress?: string;
}

/**
 * The SDK's native gRPC transport over its own HTTP/2 connection, like one
 * phone: with its HTTP/2 pings, an idle timeout of a few seconds so that a
 * device that was stopped really goes away, and optionally a source address.
 */
export function deviceTransport(link: DeviceLink): Transport {
  const target = new URL(link.url);
  const source = link.sourceAddress;
  return createNativeTransport(link.url, {
    idleConnectionTimeoutMs: 5_000,
    ...(source
      ? { createConnection: () => netConnect({ host: target.hostname, port: Number(target.port), localAddress: source }) }
      : {}),
  });
}

/** A logged-in device running the SDK in bidi mode, with in-memory storage. */
export interface BenchDevice {
  readonly username: string;
  readonly userId: string;
  readonly deviceId: string;
  /** Its bearer token (for clients other than the SDK's). */
  readonly token: string;
  /** The current client (replaced by `reopen`). */
  client(): ChatClient;
  /** Listens to this device's events across reopens. */
  on(listener: (event: ChatEvent) => void): void;
  /** Starts the connection loop (no-op while running). */
  start(): void;
  /** Ends the connection loop and waits for it. */
  stop(): Promise<void>;
  /** A new client on the same storage and a new connection (an app restarted after losing its network); not started. */
  reopen(): Promise<void>;
  /** Resolves when the stream has finished its catch-up; rejects after timeoutMs. */
  waitLive(timeoutMs: number): Promise<void>;
  /** Queues a message under a client_msg_id chosen by the caller (so it is tracked before it can be answered). */
  send(conversationId: string, text: string, clientMsgId: string): Promise<void>;
}

/** Registers a user (an existing name is fine: the bench reuses accounts within a run). */
export async function registerBenchUser(setup: Transport, username: string): Promise<void> {
  await register(setup, username, password).catch((err: unknown) => {
    if (!String(err).includes("USERNAME_TAKEN")) throw err;
  });
}

/** Logs a new device of `username` in and creates its client (not started). */
export async function openBenchDevice(setup: Transport, username: string, link: DeviceLink): Promise<BenchDevice> {
  const session = await login(setup, { username, password, deviceName: "bench" });
  const storage: ClientStorage = createMemoryStorage();
  const listeners: ((event: ChatEvent) => void)[] = [];
  // The SDK asks for the id first thing in send(): the caller's id is used for that call only.
  let nextId: string | undefined;
  const newId = (): string => {
    const id = nextId ?? crypto.randomUUID();
    nextId = undefined;
    return id;
  };
  const make = async (): Promise<ChatClient> => {
    const created = await createChatClient(
      {
        userId: session.userId,
        token: session.token,
        mode: "bidi",
        clientInfo: "bench",
        backoff: { baseMs: 200, maxMs: 5_000 },
        maxInFlightSends: 1024,
      },
      { transport: deviceTransport(link), storage, newId },
    );
    for (const listener of listeners) created.on(listener);
    return created;
  };
  let client = await make();
  let stopper: AbortController | undefined;
  let running: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopper?.abort();
    await running;
    running = undefined;
  };

  return {
    username,
    userId: session.userId,
    deviceId: session.deviceId,
    token: session.token,
    client: () => client,
    on(listener) {
      listeners.push(listener);
      client.on(listener);
    },
    start() {
      if (running) return;
      stopper = new AbortController();
      running = client.run(stopper.signal).catch(() => undefined);
    },
    stop,
    async reopen() {
      await stop();
      client = await make();
    },
    waitLive(timeoutMs) {
      const current = client;
      return current.waitFor(() => current.connectionState() === "live", timeoutMs, `${username} live`);
    },
    async send(conversationId, text, clientMsgId) {
      nextId = clientMsgId;
      const sent = client.send(conversationId, text);
      nextId = undefined;
      await sent;
    },
  };
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** A unique prefix for this run's usernames (runs may share a server). */
export function runPrefix(): string {
  return `b${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
}
