import { toBinary, type DescMessage, type DescMethod, type DescMethodBiDiStreaming, type DescService, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type http2 from "node:http2";
import { EnvelopeReader, envelopeOf, fetchHeaders, nodeHeaders } from "../grpc/envelopes.ts";

/** A bidi implementation, as connect-es calls it. */
type BidiImpl<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: HandlerContext,
) => AsyncIterable<MessageShape<O>>;

export interface GrpcStreamPathOptions<I extends DescMessage, O extends DescMessage> {
  readonly method: DescMethodBiDiStreaming<I, O>;
  readonly impl: BidiImpl<I, O>;
  /** What an error thrown by `impl` becomes on the wire (the gateway's single error mapping). */
  readonly toWireError: (err: unknown) => ConnectError;
  /** Largest request message accepted (the envelope's length). */
  readonly readMaxBytes: number;
  /** Response messages from this size on are gzipped when the client accepts gzip. */
  readonly compressMinBytes: number;
}

/** The lean path for one bidi method; `accepts` says which requests it takes, the rest stay with connect-es. */
export interface GrpcStreamPath {
  accepts(headers: http2.IncomingHttpHeaders): boolean;
  /** Serves the raw HTTP/2 stream (no node:http2 compatibility request and response). */
  serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void;
}

const PLAIN_HEAD = Object.freeze({ "content-type": "application/grpc+proto" });
const GZIP_HEAD = Object.freeze({ "content-type": "application/grpc+proto", "grpc-encoding": "gzip" });

/**
 * The device stream's gRPC protocol over HTTP/2, without connect-es' handler
 * pipeline. connect-es runs every frame through about ten async iterables
 * compiled to ES2017 generator emulation (a queue and a set of closures per
 * iterable per stream, several promise hops per frame): a fifth of an
 * embedded server's CPU and most of an idle stream's heap. This path does
 * the same protocol work in one reader and one writer loop:
 *
 * - request: length-prefixed messages (flag byte, 4-byte big-endian length),
 *   uncompressed (requests with a `grpc-encoding` other than identity, a
 *   `grpc-timeout`, or JSON stay with connect-es, which handles all of them);
 * - response: headers (200, `application/grpc+proto`, `grpc-encoding: gzip`
 *   when the client accepts it), one envelope per message, gzipped from
 *   `compressMinBytes`, then trailers with `grpc-status`, `grpc-message` and
 *   `grpc-status-details-bin` as connect-es sets them (its exported
 *   `setTrailerStatus`), so clients see the same errors either way.
 *
 * The implementation is the same function connect-es calls, with the same
 * kind of handler context; its signal aborts when the client goes away or
 * the response has ended, and the iterator it returned is returned as soon
 * as the client goes away (see Responder).
 */
export function createGrpcStreamPath<I extends DescMessage, O extends DescMessage>(
  opts: GrpcStreamPathOptions<I, O>,
): GrpcStreamPath {
  const { method, impl, toWireError, readMaxBytes, compressMinBytes } = opts;
  const requestPath = `/${method.parent.typeName}/${method.name}`;
  // One options object for every stream's reader: an idle stream holds no copy of its own.
  const readerOptions = { readMaxBytes, truncatedCode: Code.InvalidArgument };

  return {
    accepts(headers) {
      if (headers[":method"] !== "POST") return false;
      if ((headers[":path"] ?? "").split("?", 2)[0] !== requestPath) return false;
      const type = headers["content-type"];
      if (type !== "application/grpc" && type !== "application/grpc+proto") return false;
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return false;
      return headers["grpc-timeout"] === undefined;
    },
    serve(stream, headers) {
      const gzip = acceptsGzip(headers["grpc-accept-encoding"]);
      const ctx = new StreamContext(method, headers, gzip);
      const messages = impl(new EnvelopeReader(stream, method.input, readerOptions), ctx);
      new Responder(stream, messages, ctx, method.output, gzip ? compressMinBytes : Infinity, toWireError);
    },
  };
}

/**
 * The handler context of one stream, built here rather than with connect-es'
 * createHandlerContext (which adds a linked abort controller, a deadline and
 * three header copies per stream; this path has no deadline, requests with
 * one go to connect-es). What an idle stream does not use is not built:
 * request headers are read from the request on access (the request keeps its
 * own copy anyway), the response headers, trailers and context values are
 * made when first used (the response head is a shared constant otherwise).
 */
class StreamContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly url: string;
  private header: Headers | undefined;
  private trailer: Headers | undefined;
  private contextValues: ContextValues | undefined;
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private ended = false;

  constructor(
    readonly method: DescMethod,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly gzip: boolean,
  ) {
    this.service = method.parent;
    this.url = headers[":path"] ?? "";
  }

  /** Made on first use (the device stream's handler does not use it): an idle stream holds no controller. */
  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    if (this.ended) return AbortSignal.abort(this.abortReason);
    this.controller = new AbortController();
    return this.controller.signal;
  }

  /** The call has ended: aborts the signal (once), with the error it ended with or why it was cut. */
  abort(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  timeoutMs(): undefined {
    return undefined;
  }

  get requestHeader(): Headers {
    return fetchHeaders(this.headers);
  }

  get responseHeader(): Headers {
    return (this.header ??= new Headers(this.gzip ? GZIP_HEAD : PLAIN_HEAD));
  }

  /** The response head as node:http2 takes it. */
  headFields(): Readonly<Record<string, string>> {
    if (this.header) return nodeHeaders(this.header);
    return this.gzip ? GZIP_HEAD : PLAIN_HEAD;
  }

  get responseTrailer(): Headers {
    return (this.trailer ??= new Headers());
  }

  get values(): ContextValues {
    return (this.contextValues ??= createContextValues());
  }
}

/**
 * Writes the implementation's messages, then the trailers, and aborts the
 * context's signal with the error the stream ended with (or when the client
 * goes away first). Never throws.
 *
 * One message at a time: the next is taken only once HTTP/2 has taken the
 * bytes of the last (flow control permitting) or the response is gone.
 * Waiting for that before taking the next batch from the session is what
 * makes a frame carry every event queued meanwhile, and what stops draining
 * a device's queue while the device does not read.
 *
 * Driven by promise callbacks rather than an async function: a stream then
 * holds this one object and its three callbacks between frames, instead of
 * a suspended async function, its scope and promises.
 */
class Responder<O extends DescMessage> {
  private readonly it: AsyncIterator<MessageShape<O>>;
  /** Continues the loop once the write in flight is done (or the response is gone). */
  private writing = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    messages: AsyncIterable<MessageShape<O>>,
    private readonly ctx: StreamContext,
    private readonly schema: O,
    /** Messages from this size on are gzipped (Infinity: the client does not accept gzip). */
    private readonly compressFrom: number,
    private readonly toWireError: (err: unknown) => ConnectError,
  ) {
    this.it = messages[Symbol.asyncIterator]();
    // `on`, as close comes once: saves `once`'s wrapper.
    stream.on("close", this.onClose);
    this.pull();
  }

  private pull(): void {
    this.it.next().then(this.onNext, this.onError);
  }

  private readonly onNext = (next: IteratorResult<MessageShape<O>>): void => {
    const { stream } = this;
    if (next.done || stream.destroyed || stream.writableEnded) return void this.end(undefined);
    try {
      if (!stream.headersSent) this.respondHead();
      const bytes = envelopeOf(toBinary(this.schema, next.value), this.compressFrom);
      this.writing = true;
      stream.write(bytes, (err) => {
        if (!this.writing) return; // the close already moved on
        this.writing = false;
        if (err) this.onError(err);
        else this.pull();
      });
    } catch (err) {
      this.writing = false;
      this.onError(err);
    }
  };

  private readonly onError = (err: unknown): void => void this.end(this.toWireError(err));

  /**
   * The client went away. The implementation's iterator is returned at once
   * (a device session ends here, even while it waits for events), and a
   * write still in flight will not call back: the loop moves on by itself.
   */
  private readonly onClose = (): void => {
    this.ctx.abort(new ConnectError("client went away", Code.Aborted));
    this.it.return?.().catch(() => {});
    if (!this.writing) return;
    this.writing = false;
    this.pull();
  };

  /** Status 200 and the response head; the trailers follow the messages (`wantTrailers`). */
  private respondHead(): void {
    this.stream.respond({ ":status": 200, ...this.ctx.headFields() }, { waitForTrailers: true });
  }

  private async end(error: ConnectError | undefined): Promise<void> {
    const { stream, ctx } = this;
    await this.it.return?.().catch(() => {});
    try {
      if (stream.destroyed || stream.writableEnded) return;
      setTrailerStatus(ctx.responseTrailer, error);
      if (!stream.headersSent) this.respondHead();
      const trailers = nodeHeaders(ctx.responseTrailer);
      stream.once("wantTrailers", () => {
        stream.sendTrailers(trailers);
        // A client still sending would block on flow control once nobody reads: after
        // the trailers, reset the stream with NO_ERROR (the trailers go first).
        setImmediate(() => {
          if (!stream.destroyed && stream.state?.remoteClose === 0) stream.close(0);
        });
      });
      stream.end();
    } catch {
      // The stream broke while ending; the close listener sees the rest.
    } finally {
      this.ctx.abort(error);
    }
  }
}

function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(",") : (header ?? "");
  return value.split(",").some((e) => e.trim() === "gzip");
}

