import { createConnectTransport } from "@connectrpc/connect-node";
import { createNativeTransport } from "../../client/node/index.ts";
import { createChatClient, createMemoryStorage, login, register, type ChatClient, type ReceiveMode } from "../../client/index.ts";

/** An SDK device for scenario tests: a ChatClient running against `url`. */
export interface SdkDevice {
  readonly client: ChatClient;
  readonly userId: string;
  readonly deviceId: string;
  stop(): Promise<void>;
}

/** The password openSdkDevice registers users with (for a raw device of the same user). */
export const SDK_PASSWORD = "correct horse battery";
const transportFor = (url: string, mode: ReceiveMode) =>
  mode === "bidi" ? createNativeTransport(url, { pingIntervalMs: 1_000, pingTimeoutMs: 1_000 }) : createConnectTransport({ baseUrl: url, httpVersion: "1.1" });

/** Registers the user if needed, logs in a new device and runs its client (fast backoff for tests). */
export async function openSdkDevice(
  url: string,
  username: string,
  mode: ReceiveMode = "bidi",
  opts: { openTimeoutMs?: number } = {},
): Promise<SdkDevice> {
  await register(transportFor(url, "bidi"), username, SDK_PASSWORD).catch(() => undefined);
  const session = await login(transportFor(url, "bidi"), { username, password: SDK_PASSWORD, deviceName: "sdk" });
  const client = await createChatClient(
    { userId: session.userId, token: session.token, mode, backoff: { baseMs: 20, maxMs: 250 }, ...opts },
    { transport: transportFor(url, mode), storage: createMemoryStorage() },
  );
  const stop = new AbortController();
  const running = client.run(stop.signal);
  return {
    client,
    userId: session.userId,
    deviceId: session.deviceId,
    async stop() {
      stop.abort();
      await running;
    },
  };
}
