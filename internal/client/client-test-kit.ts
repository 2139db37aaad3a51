import { createConnectTransport } from "@connectrpc/connect-node";
import { createNativeTransport } from "./node/index.ts";
import type { Transport } from "@connectrpc/connect";
import { login, register, type DeviceSession } from "./auth.ts";
import { createChatClient, type ChatClient, type ChatClientConfig } from "./chat-client.ts";
import type { ClientStorage } from "./client-storage.ts";
import { createMemoryStorage } from "./memory-storage.ts";
import type { ReceiveMode } from "./stream-link.ts";

/**
 * Helpers for the SDK's integration tests against a real server: transports
 * per mode, accounts, and running devices. Test support only; not exported
 * from the SDK's index.
 */

export const testPassword = "correct horse battery";

/** A transport of the kind each mode is meant for (connect-node stands in for connect-web). */
export function transportFor(url: string, mode: ReceiveMode): Transport {
  return mode === "bidi"
    ? createNativeTransport(url, { pingIntervalMs: 1_000, pingTimeoutMs: 1_000 })
    : createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
}

/** A username unique across test runs sharing a server. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/** Registers a user and returns its id. */
export async function registerUser(url: string, username: string): Promise<string> {
  return (await register(transportFor(url, "bidi"), username, testPassword)).userId;
}

/** A logged-in device running its chat client. */
export interface TestDevice {
  readonly client: ChatClient;
  readonly session: DeviceSession;
  readonly storage: ClientStorage;
  /** Starts the connection of a device opened `offline`. */
  start(): void;
  /** Stops the client (and closes the storage unless `keepStorage`). */
  stop(opts?: { keepStorage?: boolean }): Promise<void>;
}

export interface DeviceOptions {
  readonly username: string;
  readonly mode: ReceiveMode;
  readonly storage?: ClientStorage;
  /** Log in as this existing device (a restarted process). */
  readonly deviceId?: string;
  /** Do not start the connection (offline compose). */
  readonly offline?: boolean;
  readonly config?: Partial<ChatClientConfig>;
}

/** Logs in and creates (and by default runs) a chat client. */
export async function openDevice(url: string, opts: DeviceOptions): Promise<TestDevice> {
  const session = await login(transportFor(url, "bidi"), {
    username: opts.username,
    password: testPassword,
    ...(opts.deviceId ? { deviceId: opts.deviceId } : { deviceName: "test" }),
  });
  const storage = opts.storage ?? createMemoryStorage();
  const client = await createChatClient(
    {
      userId: session.userId,
      token: session.token,
      mode: opts.mode,
      clientInfo: "sdk-test",
      backoff: { baseMs: 20, maxMs: 300 },
      ...opts.config,
    },
    { transport: transportFor(url, opts.mode), storage },
  );
  const stopper = new AbortController();
  let running: Promise<void> | undefined;
  const start = (): void => {
    running ??= client.run(stopper.signal);
  };
  if (!opts.offline) start();
  return {
    client,
    session,
    storage,
    start,
    async stop(stopOpts = {}) {
      stopper.abort();
      await running;
      if (!stopOpts.keepStorage) await storage.close();
    },
  };
}

/** Texts of a conversation's messages as the device shows them. */
export function texts(client: ChatClient, conversationId: string): string[] {
  return client.messages(conversationId).map((m) => m.text);
}
