import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { connect as netConnect, type Socket } from "node:net";
import { ConnectRequestSchema, ConnectResponseSchema } from "../../gen/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "../../gen/chat/v1/types_pb.ts";
import {
  clientPreface,
  createFrameReader,
  createGrpcReader,
  dataPayload,
  defaultWindowBytes,
  encodeFrame,
  encodeHeaderBlock,
  Flags,
  FrameType,
  grpcMessage,
  Setting,
  settingsFrame,
  windowUpdateFrame,
  type Frame,
} from "./h2-frames.ts";

/** How a stalled stream ended, as the device saw it once it read again. */
export interface StalledStreamEnd {
  /** ErrorReason name of the server's Reconnect event (e.g. "SLOW_CONSUMER"), if one came. */
  readonly reconnectReason: string | undefined;
  /** Trailers (END_STREAM), RST_STREAM, GOAWAY, the connection closing, or nothing within the wait. */
  readonly how: "trailers" | "reset" | "goaway" | "closed" | "timeout";
}

/**
 * One device's bidi `ChatService.Connect` stream over its own HTTP/2
 * connection, spoken by hand so that flow control is exact: while live it
 * returns the server's credit for every byte it reads; after `stall()` it
 * keeps reading its socket (HTTP/2 PINGs are answered, so the connection is
 * healthy) and keeps sending its app-level pings (so the stream is not
 * idle), but grants no more window. The server can then put at most what is
 * left of the window on the wire; everything else it must hold or cut,
 * which is what a phone whose app stopped reading looks like to it.
 */
export interface StalledStream {
  /** Resolves once SyncComplete arrived; rejects if the stream ends first or after timeoutMs. */
  waitLive(timeoutMs: number): Promise<void>;
  /** Stops granting flow-control window. */
  stall(): void;
  /** Grants the held-back window and reads on; resolves when the stream ends or after timeoutMs. */
  resume(timeoutMs: number): Promise<StalledStreamEnd>;
  /** Payload bytes received on the stream so far, and since `stall()`. */
  readonly bytesReceived: number;
  readonly bytesWhileStalled: number;
  close(): void;
}

const streamId = 1;

export function openStalledStream(url: string, token: string): StalledStream {
  const target = new URL(url);
  const socket: Socket = netConnect({ host: target.hostname, port: Number(target.port) });
  socket.on("error", () => undefined);
  let stalled = false;
  let heldBack = 0;
  let bytesReceived = 0;
  let bytesWhileStalled = 0;
  let live = false;
  let reconnectReason: string | undefined;
  let ended: StalledStreamEnd["how"] | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };
  const end = (how: StalledStreamEnd["how"]): void => {
    ended ??= how;
    clearInterval(pingTimer);
    notify();
  };
  const send = (bytes: Buffer): void => {
    if (!socket.destroyed) socket.write(bytes);
  };
  // The request stream stays open (no END_STREAM): a half-closed bidi stream ends the session.
  const sendFrame = (frame: MessageInitShape<typeof ConnectRequestSchema>): void => {
    const body = toBinary(ConnectRequestSchema, create(ConnectRequestSchema, frame));
    send(encodeFrame(FrameType.data, 0, streamId, grpcMessage(body)));
  };

  const onMessage = (body: Buffer): void => {
    const event = fromBinary(ConnectResponseSchema, body).event?.event;
    if (!event) return;
    if (event.case === "welcome" && event.value.heartbeatIntervalMs > 0) {
      // The server closes a bidi stream that sends nothing for a few intervals: ping like the SDK.
      pingTimer = setInterval(
        () => sendFrame({ frame: { case: "ping", value: { nonce: BigInt(Date.now()) } } }),
        event.value.heartbeatIntervalMs,
      );
    } else if (event.case === "syncComplete") {
      live = true;
    } else if (event.case === "reconnect") {
      reconnectReason = ErrorReason[event.value.reason];
    }
    notify();
  };
  const grpc = createGrpcReader(onMessage);

  const onFrame = (frame: Frame): void => {
    switch (frame.type) {
      case FrameType.settings:
        if ((frame.flags & Flags.ack) === 0) send(encodeFrame(FrameType.settings, Flags.ack, 0));
        return;
      case FrameType.ping:
        if ((frame.flags & Flags.ack) === 0) send(encodeFrame(FrameType.ping, Flags.ack, 0, Buffer.from(frame.payload)));
        return;
      case FrameType.goaway:
        return end("goaway");
      case FrameType.rstStream:
        if (frame.streamId === streamId) end("reset");
        return;
      case FrameType.headers:
        if (frame.streamId === streamId && (frame.flags & Flags.endStream) !== 0) end("trailers");
        return;
      case FrameType.data: {
        if (frame.streamId !== streamId) return;
        bytesReceived += frame.payload.length;
        if (stalled) {
          bytesWhileStalled += frame.payload.length;
          heldBack += frame.payload.length;
        } else if (frame.payload.length > 0) {
          // Credit back what was read, on the stream and on the connection.
          send(Buffer.concat([windowUpdateFrame(0, frame.payload.length), windowUpdateFrame(streamId, frame.payload.length)]));
        }
        grpc(Buffer.from(dataPayload(frame)));
        if ((frame.flags & Flags.endStream) !== 0) end("trailers");
        return;
      }
    }
  };
  socket.on("data", createFrameReader(onFrame));
  socket.on("close", () => end("closed"));

  const headers = encodeHeaderBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/chat.v1.ChatService/Connect"],
    [":authority", target.host],
    ["content-type", "application/grpc+proto"],
    ["te", "trailers"],
    ["authorization", `Bearer ${token}`],
  ]);
  send(
    Buffer.concat([
      clientPreface,
      settingsFrame([
        [Setting.enablePush, 0],
        [Setting.initialWindowSize, defaultWindowBytes],
      ]),
      encodeFrame(FrameType.headers, Flags.endHeaders, streamId, headers),
    ]),
  );
  sendFrame({ frame: { case: "hello", value: { token: "", cursors: [] } } });

  const waitUntil = (done: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        resolve(false);
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  return {
    async waitLive(timeoutMs) {
      await waitUntil(() => live || ended !== undefined, timeoutMs);
      if (!live) throw new Error(`stalled stream: not live (${ended ?? "timeout"}, reconnect ${reconnectReason ?? "none"})`);
    },
    stall() {
      stalled = true;
    },
    async resume(timeoutMs) {
      stalled = false;
      if (heldBack > 0) send(Buffer.concat([windowUpdateFrame(0, heldBack), windowUpdateFrame(streamId, heldBack)]));
      heldBack = 0;
      const done = await waitUntil(() => ended !== undefined, timeoutMs);
      return { reconnectReason, how: done ? ended! : "timeout" };
    },
    get bytesReceived() {
      return bytesReceived;
    },
    get bytesWhileStalled() {
      return bytesWhileStalled;
    },
    close() {
      clearInterval(pingTimer);
      socket.destroy();
    },
  };
}
