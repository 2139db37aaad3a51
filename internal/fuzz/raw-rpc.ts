import http2 from "node:http2";
import { envelopeOf } from "../grpc/envelopes.ts";

/** What the server answered, protocol-independent. */
export interface RawAnswer {
  /** gRPC status number, or for Connect unary the HTTP status mapped to a gRPC code name. */
  readonly code: string;
  readonly message: string;
}

/** One uncompressed gRPC message (the gateway's own framing). */
const grpcFrame = (payload: Uint8Array): Uint8Array => envelopeOf(payload, Infinity);

/**
 * Sends raw bytes as one gRPC message to `path` over an existing HTTP/2
 * session and half-closes; resolves with the grpc-status (from headers or
 * trailers). Bounded by `timeoutMs` (then "timeout"). With `streaming`, the
 * first response message ends the call as "open-stream".
 */
export function grpcCall(
  session: http2.ClientHttp2Session,
  path: string,
  payload: Uint8Array,
  headers: Record<string, string>,
  timeoutMs: number,
  streaming = false,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let status: string | undefined;
    let message = "";
    let settled = false;
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    const done = (code: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.close();
      resolve({ code, message });
    };
    const timer = setTimeout(() => done(status ?? "timeout"), timeoutMs);
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    req.on("response", take);
    req.on("trailers", take);
    // A server stream that sends a message is open and serving: a success
    // (the server decoded the request); the caller does not wait for its end.
    req.on("data", () => {
      if (streaming) done("open-stream");
    });
    req.on("end", () => done(status ?? "no-status"));
    req.on("error", () => done(status ?? "stream-error"));
    req.end(grpcFrame(payload));
  });
}

/** Sends raw bytes as a Connect unary binary request over HTTP/1.1; returns the Connect error code or "ok". */
export async function connectUnaryCall(
  baseUrl: string,
  path: string,
  payload: Uint8Array,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<RawAnswer> {
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1", ...headers },
      body: payload as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.ok) {
      await res.arrayBuffer();
      return { code: "ok", message: "" };
    }
    const text = await res.text();
    try {
      const j = JSON.parse(text) as { code?: string; message?: string };
      return { code: j.code ?? `http-${res.status}`, message: j.message ?? "" };
    } catch {
      return { code: `http-${res.status}`, message: text.slice(0, 100) };
    }
  } catch (err) {
    return { code: "transport-error", message: String(err) };
  }
}
