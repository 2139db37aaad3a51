import { Agent } from "node:http";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createHistoryRecorder, type History, type HistoryConversation } from "../../checker/index.ts";
import {
  createChatClient,
  createMemoryStorage,
  login,
  register,
  type ChatClient,
  type ClientStorage,
  type ReceiveMode,
} from "../../client/index.ts";
import { startTcpProxy, type TcpProxy } from "../../faults/index.ts";
import type { ClusterProcess } from "./test-cluster.ts";

/** One SDK device of the fleet, reaching its gateway through its own proxy (its network and load balancer). */
export interface FleetDevice {
  /** "alice#0": user name and device index, for messages. */
  readonly name: string;
  readonly username: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly mode: ReceiveMode;
  readonly proxy: TcpProxy;
  readonly client: ChatClient;
  readonly storage: ClientStorage;
}

/** A user of the fleet, able to call the API directly (no proxy) for checks and raw sends. */
export interface FleetUser {
  readonly username: string;
  readonly userId: string;
  /** Token of a device of the user that is not an SDK device (see directApi). */
  readonly token: string;
  readonly directDeviceId: string;
  readonly conversationIds: string[];
}

/** Who the fleet is: devices (user, gateway index, receive mode) and conversations by user name. */
export interface FleetSpec {
  readonly devices: readonly { readonly user: string; readonly gateway: number; readonly mode: ReceiveMode }[];
  readonly conversations: readonly (readonly [string, string])[];
}

/**
 * SDK devices in front of a test cluster, recording what they compose and
 * observe in the checker's History shape, so that `verifyHistory` judges
 * them (see fleet-verdict.ts).
 */
export interface ClusterFleet {
  readonly users: readonly FleetUser[];
  readonly devices: readonly FleetDevice[];
  readonly conversations: readonly HistoryConversation[];
  /** Devices by name ("alice#0": the user's first device in the spec), in the order asked; throws if one is unknown. */
  named<const N extends readonly string[]>(...names: N): { readonly [K in keyof N]: FleetDevice };
  /** Sends from the device through its SDK outbox; resolves once queued, with the client id. */
  send(device: FleetDevice, conversationId: string, text: string): Promise<string>;
  /** Records a message sent outside the SDK (raw retries), accepted as "sent" by the server. */
  recordRawSend(send: { clientMsgId: string; conversationId: string; deviceId: string }): void;
  /**
   * Sends one message every `intervalMs`, rotating over devices and their
   * conversations, until `signal` aborts or `max` were sent; resolves with the
   * count. Every third step another device also marks its conversation read,
   * so read watermarks move through the faults as well.
   */
  traffic(signal: AbortSignal, opts: { intervalMs: number; max: number; prefix: string }): Promise<number>;
  /** Client-side records so far (the end state is added by fleet-verdict.ts). */
  snapshot(): Pick<History, "conversations" | "devices" | "sends" | "observations">;
  close(): Promise<void>;
}

const password = "cluster fleet password";

function transportFor(url: string, mode: ReceiveMode): { transport: Transport; close: () => void } {
  if (mode === "bidi") {
    const sessionManager = new Http2SessionManager(url);
    return { transport: createGrpcTransport({ baseUrl: url, sessionManager }), close: () => sessionManager.abort() };
  }
  const agent = new Agent({ keepAlive: true });
  return { transport: createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { agent } }), close: () => agent.destroy() };
}

/** Registers the users, logs in and starts every device behind its proxy, and opens the conversations. */
export async function createClusterFleet(gateways: readonly ClusterProcess[], spec: FleetSpec): Promise<ClusterFleet> {
  const tag = crypto.randomUUID().slice(0, 6);
  const direct = createConnectTransport({ baseUrl: gateways[0]!.url, httpVersion: "1.1" });
  const users = new Map<string, FleetUser>();
  const devices: FleetDevice[] = [];
  const stops: (() => Promise<void>)[] = [];
  // The history checker's recorder: what devices compose and observe, in the shape verifyHistory judges.
  const recorder = createHistoryRecorder({ clock: { nowMs: () => Date.now() } });

  for (const d of spec.devices) {
    const username = `${d.user}_${tag}`;
    if (!users.has(d.user)) {
      const { userId } = await register(direct, username, password);
      const session = await login(direct, { username, password, deviceName: "checks" });
      users.set(d.user, { username, userId, token: session.token, directDeviceId: session.deviceId, conversationIds: [] });
    }
    const user = users.get(d.user)!;
    const session = await login(direct, { username, password, deviceName: `fleet-${devices.length}` });
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: gateways[d.gateway]!.port });
    const storage = createMemoryStorage();
    const { transport, close } = transportFor(proxy.url, d.mode);
    const client = await createChatClient(
      { userId: user.userId, token: session.token, mode: d.mode, clientInfo: "cluster-fleet", backoff: { baseMs: 50, maxMs: 500 } },
      { transport, storage },
    );
    const device: FleetDevice = {
      name: `${d.user}#${devices.filter((x) => x.userId === user.userId).length}`,
      username,
      userId: user.userId,
      deviceId: session.deviceId,
      mode: d.mode,
      proxy,
      client,
      storage,
    };
    recorder.addDevice({ deviceId: device.deviceId, userId: device.userId });
    const detach = recorder.attach(device.deviceId, client);
    const stopper = new AbortController();
    const running = client.run(stopper.signal);
    stops.push(async () => {
      stopper.abort();
      await running;
      detach();
      close();
      await proxy.close();
    });
    devices.push(device);
  }

  const conversations: HistoryConversation[] = [];
  for (const [a, b] of spec.conversations) {
    const [ua, ub] = [users.get(a)!, users.get(b)!];
    const starter = devices.find((d) => d.userId === ua.userId)!;
    const view = await starter.client.startConversation({ userId: ub.userId });
    const conversation: HistoryConversation = { conversationId: view.conversationId, userIds: [ua.userId, ub.userId] };
    conversations.push(conversation);
    recorder.addConversation(conversation);
    ua.conversationIds.push(view.conversationId);
    ub.conversationIds.push(view.conversationId);
  }
  // Every device learns the conversation list, as an app does on start.
  await Promise.all(devices.map((d) => d.client.refreshConversations()));

  const fleet: ClusterFleet = {
    users: [...users.values()],
    devices,
    conversations,
    named(...names) {
      return names.map((name) => {
        const found = devices.find((d) => d.name === name);
        if (!found) throw new Error(`no device ${name} in the fleet (${devices.map((d) => d.name).join(", ")})`);
        return found;
      }) as never;
    },
    async send(device, conversationId, text) {
      const { clientMsgId } = await device.client.send(conversationId, text);
      recorder.composed({ clientMsgId, conversationId, deviceId: device.deviceId });
      return clientMsgId;
    },
    recordRawSend: (send) => recorder.sentOutside(send),
    async traffic(signal, opts) {
      const lanes = devices.flatMap((d) =>
        [...users.values()].find((u) => u.userId === d.userId)!.conversationIds.map((c) => [d, c] as const),
      );
      let sent = 0;
      for (; sent < opts.max && !signal.aborted; sent++) {
        const [device, conversationId] = lanes[sent % lanes.length]!;
        await fleet.send(device, conversationId, `${opts.prefix}-${sent}`);
        if (sent % 3 === 0) {
          const [reader, readIn] = lanes[(sent * 7 + 3) % lanes.length]!;
          reader.client.markRead(readIn);
        }
        await Bun.sleep(opts.intervalMs);
      }
      return sent;
    },
    snapshot: () => recorder.snapshot(),
    async close() {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
  return fleet;
}
