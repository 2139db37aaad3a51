import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { createSweep } from "../domain/index.ts";
import type { GrpcStreamPath } from "./grpc-stream-path.ts";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * One cleartext port for HTTP/2 (gRPC, gRPC-Web, Connect) and HTTP/1.1
 * (Connect-Web from browsers, which never speak h2c). node:http2's
 * `allowHTTP1` only works with TLS, so the first bytes of each connection
 * pick the server: the HTTP/2 client preface, or anything else.
 *
 * HTTP/2 streams that a `streamPaths` entry accepts (grpc-stream-path.ts)
 * are served on the raw stream; every other stream gets node:http2's
 * compatibility request and response and goes to `handler`, as the server's
 * request listener would. Making those two objects (with their stream
 * states and event tables) only where they are used keeps them off the
 * device streams a gateway holds by the 10^5.
 */
export interface DualProtocolListener {
  listen(port: number, host: string): Promise<net.AddressInfo>;
  /** Stops accepting; open connections stay until `destroyAll`. */
  close(): Promise<void>;
  destroyAll(): void;
  readonly h2: http2.Http2Server;
}

export interface LivenessConfig {
  /** How often each HTTP/2 connection is pinged (and TCP keepalive probes HTTP/1.1 ones). */
  readonly pingIntervalMs: number;
  /** A connection whose ping is unanswered this long is destroyed. */
  readonly pingTimeoutMs: number;
}

export function createDualProtocolListener(
  handler: Handler,
  liveness: LivenessConfig,
  streamPaths: readonly GrpcStreamPath[] = [],
): DualProtocolListener {
  const h2 = http2.createServer({});
  h2.on("stream", (h2stream, headers, _flags, rawHeaders) => {
    const stream = h2stream as http2.ServerHttp2Stream;
    for (const path of streamPaths) if (path.accepts(headers)) return path.serve(stream, headers);
    const req = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders as unknown as string[]);
    const res = new http2.Http2ServerResponse(stream);
    if (headers.expect === "100-continue") res.writeContinue();
    handler(req, res);
  });
  const h1 = http.createServer(handler as never);
  const sockets = new Set<net.Socket>();
  // A peer that vanished without FIN (half-open) never errors a write until
  // buffers fill: HTTP/2 PINGs find it within pingTimeoutMs, and destroying the
  // session aborts its streams, which ends their device sessions. One sweep
  // for all sessions rather than a timer each: a gateway holds 10^5 of them.
  const period = Math.max(50, Math.min(liveness.pingIntervalMs, liveness.pingTimeoutMs / 2));
  const pings = createSweep<http2.ServerHttp2Session, { dueAtMs: number; outstandingSinceMs: number }>(
    Math.min(period, 1_000),
    (session, state, now) => {
      if (session.destroyed || session.closed) return true;
      if (state.outstandingSinceMs > 0) {
        if (now - state.outstandingSinceMs < liveness.pingTimeoutMs) return false;
        session.destroy();
        return true;
      }
      if (now >= state.dueAtMs) {
        state.dueAtMs = now + period;
        state.outstandingSinceMs = now;
        const sent = session.ping((err) => {
          if (!err) state.outstandingSinceMs = 0;
        });
        if (!sent) state.outstandingSinceMs = 0;
      }
      return false;
    },
  );
  h2.on("session", (session) => {
    pings.set(session, { dueAtMs: Date.now() + period, outstandingSinceMs: 0 });
    session.on("close", () => pings.delete(session));
  });
  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.setKeepAlive(true, liveness.pingIntervalMs);
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const n = Math.min(chunk.length, PREFACE.length);
      const isH2 = chunk.subarray(0, n).equals(PREFACE.subarray(0, n));
      (isH2 ? h2 : h1).emit("connection", socket);
      socket.resume();
    });
    socket.on("error", () => socket.destroy());
  });
  return {
    h2,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        front.once("error", reject);
        front.listen(port, host, () => resolve(front.address() as net.AddressInfo));
      });
    },
    close() {
      return new Promise((resolve) => front.close(() => resolve()));
    },
    destroyAll() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
}
