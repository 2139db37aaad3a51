import type { DescMessage, DescMethodStreaming, MessageInitShape } from "@bufbuild/protobuf";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse, type Transport } from "@connectrpc/connect";
import { requestHeader, validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { gunzipSync } from "node:zlib";
import { EnvelopeReader, envelopeOf, fetchHeaders, nodeHeaders } from "../../grpc/envelopes.ts";

/** How a native client connects. */
export interface NativeTransportOptions {
  /** HTTP/2 pings (see createNativeTransport): every 10 s, a connection is dead after 5 s without an answer. */
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  /** Closes the connection after this long without a call (default: never). */
  readonly idleConnectionTimeoutMs?: number;
  /** Opens the socket (e.g. from a given local address); default: a TCP connection to the URL's host. */
  readonly createConnection?: () => Duplex;
}

/** Largest response message the streams accept: the server's frames stay far below it. */
const READ_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The gRPC transport a native (Node/Bun) client should give the SDK.
 *
 * It pings its HTTP/2 connection: without pings, connect-node keeps reusing a
 * connection that died silently (NAT rebinding, Wi-Fi to LTE), so every
 * reconnect of the SDK would go out on the dead socket until the OS gives up
 * on it (minutes). With them, a dead connection is replaced within
 * `pingIntervalMs + pingTimeoutMs`.
 *
 * Unary calls go through connect-node's gRPC transport. Streams (the device
 * stream the SDK keeps open) go straight onto an HTTP/2 stream of the same
 * connection: connect-es would run every frame through about ten async
 * iterables each way, most of a busy client's CPU (see openLeanStream).
 */
export function createNativeTransport(baseUrl: string, opts: NativeTransportOptions = {}): Transport {
  const sessions = new Http2SessionManager(
    baseUrl,
    {
      pingIntervalMs: opts.pingIntervalMs ?? 10_000,
      pingTimeoutMs: opts.pingTimeoutMs ?? 5_000,
      ...(opts.idleConnectionTimeoutMs === undefined ? {} : { idleConnectionTimeoutMs: opts.idleConnectionTimeoutMs }),
    },
    opts.createConnection ? { createConnection: opts.createConnection } : undefined,
  );
  const unary = createGrpcTransport({ baseUrl, sessionManager: sessions });
  const prefix = new URL(baseUrl).pathname.replace(/\/+$/, "");
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      unary.unary(method, signal, timeoutMs, header, input, contextValues),
    stream: (method, signal, timeoutMs, header, input) =>
      openLeanStream(sessions, `${prefix}/${method.parent.typeName}/${method.name}`, method, signal, timeoutMs, header, input),
  };
}

/**
 * One streaming call on a raw HTTP/2 stream: gRPC headers (with
 * `grpc-accept-encoding: gzip`), the request messages written as the input
 * yields them (waiting for `drain` when HTTP/2 holds them back), the response
 * messages decoded on arrival (EnvelopeReader), and the call's status from
 * the trailers, or from the head for a trailers-only response, checked with
 * connect-es' own validateResponse and validateTrailer so errors carry the
 * same codes, messages and details as with connect-node. Resolves once the
 * response head has arrived, as connect-node does.
 */
async function openLeanStream<I extends DescMessage, O extends DescMessage>(
  sessions: Http2SessionManager,
  path: string,
  method: DescMethodStreaming<I, O>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  header: HeadersInit | undefined,
  input: AsyncIterable<MessageInitShape<I>>,
): Promise<StreamResponse<I, O>> {
  if (signal?.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
  const head = requestHeader(true, timeoutMs, header);
  head.set("grpc-accept-encoding", "gzip");
  let stream: http2.ClientHttp2Stream;
  try {
    stream = await sessions.request("POST", path, nodeHeaders(head), {});
  } catch (err) {
    throw ConnectError.from(err, Code.Unavailable);
  }
  const call = new LeanCall(stream, signal, () => sessions.notifyResponseByteRead(stream));
  if (timeoutMs !== undefined) call.expireAfter(timeoutMs);
  const messages = new EnvelopeReader(stream, method.output, {
    readMaxBytes: READ_MAX_BYTES,
    truncatedCode: Code.Internal,
    decompress: call.inflate,
    endError: () => call.endError(),
    // A broken connection or a reset: unavailable, as connect-node reports it (the SDK reconnects).
    streamError: (err) => call.resetError() ?? ConnectError.from(err, Code.Unavailable),
  });
  // The response head may never come while the server waits for a request: write while waiting for it.
  void writeRequests(stream, method.input, input).catch((err: unknown) => call.cancel(err));
  const responseHeader = await call.head;
  return { stream: true, service: method.parent, method, header: responseHeader, trailer: call.trailer, message: messages };
}

/** Writes each request as the input yields it, then ends the request; stops when the stream goes away. */
async function writeRequests<I extends DescMessage>(
  stream: http2.ClientHttp2Stream,
  schema: I,
  input: AsyncIterable<MessageInitShape<I>>,
): Promise<void> {
  for await (const init of input) {
    if (stream.destroyed || stream.writableEnded) return;
    if (!stream.write(envelopeOf(toBinary(schema, create(schema, init)), Infinity))) await drained(stream);
  }
  if (!stream.destroyed && !stream.writableEnded) stream.end();
}

/** Resolves once HTTP/2 takes more (flow control) or the stream is gone. */
function drained(stream: http2.ClientHttp2Stream): Promise<void> {
  return new Promise<void>((resolve) => {
    const go = (): void => {
      stream.off("drain", go);
      stream.off("close", go);
      resolve();
    };
    stream.on("drain", go);
    stream.on("close", go);
  });
}

/**
 * RST_STREAM error codes as gRPC status codes, per gRPC's PROTOCOL-HTTP2.md ("Errors"); the
 * rest (NO_ERROR, STREAM_CLOSED, unknown) say nothing about the call.
 */
const RESET_CODES: ReadonlyMap<number, Code> = new Map([
  [http2.constants.NGHTTP2_PROTOCOL_ERROR, Code.Internal],
  [http2.constants.NGHTTP2_INTERNAL_ERROR, Code.Internal],
  [http2.constants.NGHTTP2_FLOW_CONTROL_ERROR, Code.Internal],
  [http2.constants.NGHTTP2_SETTINGS_TIMEOUT, Code.Internal],
  [http2.constants.NGHTTP2_FRAME_SIZE_ERROR, Code.Internal],
  [http2.constants.NGHTTP2_COMPRESSION_ERROR, Code.Internal],
  [http2.constants.NGHTTP2_CONNECT_ERROR, Code.Internal],
  [http2.constants.NGHTTP2_REFUSED_STREAM, Code.Unavailable],
  [http2.constants.NGHTTP2_CANCEL, Code.Canceled],
  [http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, Code.ResourceExhausted],
  [http2.constants.NGHTTP2_INADEQUATE_SECURITY, Code.PermissionDenied],
  [http2.constants.NGHTTP2_HTTP_1_1_REQUIRED, Code.PermissionDenied],
]);

/** The state of one lean call besides its messages: head, trailers, cancellation. */
class LeanCall {
  readonly trailer = new Headers();
  readonly head: Promise<Headers>;
  /** The response head said `grpc-encoding: gzip`. */
  private gzip = false;
  private responseHeader: Headers | undefined;
  /** The head carried the status (a trailers-only response). */
  private statusInHead = false;
  private trailersSeen = false;
  private cancelledWith: ConnectError | undefined;
  private aliveNotedAt = 0;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly signal: AbortSignal | undefined,
    /** Tells the session manager the connection is alive (it then holds off its pings). */
    private readonly noteAlive: () => void,
  ) {
    this.head = new Promise<Headers>((resolve, reject) => {
      stream.once("response", (fields) => {
        try {
          resolve(this.onHead(fields));
        } catch (err) {
          reject(err);
        }
      });
      stream.once("close", () => reject(this.endError() ?? new ConnectError("stream closed before its response", Code.Unavailable)));
    });
    // The caller may never read the messages (a failed head): do not leave the rejection unhandled.
    this.head.catch(() => {});
    stream.on("trailers", (fields: http2.IncomingHttpHeaders) => {
      this.trailersSeen = true;
      fetchHeaders(fields).forEach((value, name) => this.trailer.append(name, value));
    });
    stream.on("data", this.onData);
    signal?.addEventListener("abort", this.onAbort, { once: true });
    stream.once("close", () => signal?.removeEventListener("abort", this.onAbort));
  }

  /** Ends the call from this side: the server sees CANCEL, the reader ends with `reason`. */
  cancel(reason: unknown): void {
    this.cancelledWith ??= ConnectError.from(reason, Code.Canceled);
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  /** Cancels the call with deadline_exceeded once `timeoutMs` have passed (the server also gets grpc-timeout). */
  expireAfter(timeoutMs: number): void {
    const timer = setTimeout(() => this.cancel(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeoutMs);
    this.stream.once("close", () => clearTimeout(timer));
  }

  /** Why the response ended, if not with an OK status: asked when the stream ends or closes. */
  endError(): ConnectError | undefined {
    if (this.cancelledWith) return this.cancelledWith;
    if (this.trailersSeen) {
      try {
        validateTrailer(this.trailer, this.responseHeader ?? new Headers());
        return undefined;
      } catch (err) {
        return ConnectError.from(err);
      }
    }
    if (this.statusInHead) return undefined;
    return this.resetError() ?? new ConnectError("protocol error: missing status", Code.Internal);
  }

  /** The call's end if it was cancelled here or reset by the server with a code gRPC maps (RESET_CODES). */
  resetError(): ConnectError | undefined {
    if (this.cancelledWith) return this.cancelledWith;
    const rst = this.stream.rstCode;
    const code = rst ? RESET_CODES.get(rst) : undefined;
    return code === undefined ? undefined : new ConnectError(`http/2 stream reset with error code 0x${rst!.toString(16)}`, code);
  }

  /** A compressed message's bytes; a compressed message on a response without grpc-encoding breaks the protocol. */
  readonly inflate = (bytes: Uint8Array): Uint8Array => {
    if (!this.gzip) throw new ConnectError("compressed message without a grpc-encoding", Code.Internal);
    return gunzipSync(bytes);
  };

  /** At most once a second: what the manager does with it (reset a ping timer) need not happen per chunk. */
  private readonly onData = (): void => {
    const now = Date.now();
    if (now - this.aliveNotedAt < 1_000) return;
    this.aliveNotedAt = now;
    this.noteAlive();
  };

  private readonly onAbort = (): void => this.cancel(this.signal?.reason ?? new ConnectError("call aborted", Code.Canceled));

  private onHead(fields: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): Headers {
    const header = fetchHeaders(fields);
    this.responseHeader = header;
    const { foundStatus, headerError } = validateResponse(fields[":status"] ?? 0, header);
    if (headerError) throw headerError;
    this.statusInHead = foundStatus;
    const encoding = header.get("grpc-encoding");
    if (encoding !== null && encoding !== "identity" && encoding !== "gzip") {
      throw new ConnectError(`unsupported response encoding "${encoding}"`, Code.Internal);
    }
    this.gzip = encoding === "gzip";
    return header;
  }
}
