import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../../gen/chat/v1/auth_service_pb.ts";
import {
  ChatService,
  ConnectRequestSchema,
  type ConnectRequest,
  type ServerEvent,
} from "../../../gen/chat/v1/chat_service_pb.ts";

/**
 * A bare protocol-level device for end-to-end tests of the gateway: it speaks
 * the wire API directly (no SDK logic), records every server event, and lets a
 * test push arbitrary frames. Scenario tests use the SDK instead.
 */
export interface RawDevice {
  readonly userId: string;
  readonly deviceId: string;
  readonly token: string;
  readonly chat: Client<typeof ChatService>;
  readonly events: ServerEvent[];
  /** Opens a bidi stream with the given cursors; resolves after SyncComplete, rejects if the stream ends first. */
  connect(cursors?: { conversationId: string; seq: number }[]): Promise<void>;
  send(frame: MessageInitShape<typeof ConnectRequestSchema>["frame"]): void;
  /** Ends the stream from the client side. */
  disconnect(): Promise<void>;
  /** Resolves with the first recorded event (from index `from`) matching; rejects after timeoutMs. */
  waitFor<T = ServerEvent>(pred: (e: ServerEvent) => boolean, timeoutMs?: number, from?: number): Promise<T>;
  /** The stream's terminal error, if it ended with one. */
  readonly streamError: unknown;
  /** True from `connect` until the stream ends (either side). */
  readonly streaming: boolean;
}

export function transportFor(url: string, protocol: "grpc" | "connect" = "grpc"): Transport {
  return protocol === "grpc"
    ? createGrpcTransport({ baseUrl: url })
    : createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
}

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

/** Registers (if needed) and logs in a user, returning a new device. */
export async function newDevice(
  url: string,
  username: string,
  opts: { register?: boolean; protocol?: "grpc" | "connect"; deviceId?: string; password?: string } = {},
): Promise<RawDevice> {
  const auth = createClient(AuthService, transportFor(url, opts.protocol));
  const password = opts.password ?? "correct-horse-battery";
  if (opts.register ?? true) await auth.register({ username, password }).catch(() => undefined);
  const login = await auth.login({ username, password, deviceName: "test", deviceId: opts.deviceId ?? "" });
  const token = login.token;
  const chat = createClient(
    ChatService,
    opts.protocol === "connect"
      ? createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [bearer(token)] })
      : createGrpcTransport({ baseUrl: url, interceptors: [bearer(token)] }),
  );
  const events: ServerEvent[] = [];
  const waiters = new Set<() => void>();
  let outbox: ((f: ConnectRequest) => void) | undefined;
  let queue: ConnectRequest[] = [];
  let ended: (() => void) | undefined;
  let abort: AbortController | undefined;
  let running: Promise<void> | undefined;
  let streamError: unknown;
  let streaming = false;

  async function* requests(cursors: { conversationId: string; seq: number }[]): AsyncGenerator<ConnectRequest> {
    yield create(ConnectRequestSchema, {
      frame: { case: "hello", value: { token: "", cursors: cursors.map((c) => ({ conversationId: c.conversationId, seq: BigInt(c.seq) })) } },
    });
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      const next = await new Promise<ConnectRequest | undefined>((resolve) => {
        outbox = resolve;
        ended = () => resolve(undefined);
      });
      outbox = undefined;
      if (!next) return;
      yield next;
    }
  }

  const device: RawDevice = {
    userId: login.userId,
    deviceId: login.deviceId,
    token,
    chat,
    events,
    get streamError() {
      return streamError;
    },
    get streaming() {
      return streaming;
    },
    async connect(cursors = []) {
      abort = new AbortController();
      queue = [];
      streamError = undefined;
      streaming = true;
      const from = events.length;
      running = (async () => {
        try {
          for await (const res of chat.connect(requests(cursors), { signal: abort!.signal })) {
            if (res.event) events.push(res.event);
            for (const w of waiters) w();
          }
        } catch (err) {
          streamError = err;
        }
        streaming = false;
        for (const w of waiters) w();
      })();
      // A stream cut during catch-up (e.g. SLOW_CONSUMER) never sends SyncComplete: fail now, not at the timeout.
      let synced = false;
      const ended = running.then(() => {
        if (!synced) throw new Error(`the stream ended before SyncComplete: ${String(streamError)}`);
      });
      await Promise.race([device.waitFor((e) => e.event.case === "syncComplete", 5_000, from), ended]);
      synced = true;
    },
    send(frame) {
      const req = create(ConnectRequestSchema, { frame });
      const deliver = outbox;
      outbox = undefined; // one waiting generator takes one frame; the rest queue
      if (deliver) deliver(req);
      else queue.push(req);
    },
    async disconnect() {
      ended?.();
      abort?.abort();
      await running;
    },
    waitFor(pred, timeoutMs = 5_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = from; i < events.length; i++) {
            if (pred(events[i]!)) {
              waiters.delete(check);
              clearTimeout(timer);
              resolve(events[i] as never);
              return true;
            }
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms; events: ${events.map((e) => e.event.case + (e.event.case === "reconnect" || e.event.case === "error" ? JSON.stringify(e.event.value, (_k, v) => (typeof v === "bigint" ? String(v) : v)) : "")).join(",")}; stream error: ${String(streamError)}`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
  };
  return device;
}
