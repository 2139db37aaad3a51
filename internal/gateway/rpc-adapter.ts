import { Code, ConnectError, createConnectRouter, type ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type http from "node:http";
import type http2 from "node:http2";
import type { Logger } from "pino";

type NodeReq = http.IncomingMessage | http2.Http2ServerRequest;
type NodeRes = http.ServerResponse | http2.Http2ServerResponse;

const PARSE_PREFIX = "parse binary";
export const COMPRESS_MIN_BYTES = 16 * 1024;
const REPLACEMENT = "[MALFORMED_FRAME] request is not a valid protobuf message";

/**
 * connect-node's adapter, with one correction: connect-es reports a request
 * whose protobuf bytes do not decode as `internal` (it cannot tell a client's
 * bad bytes from its own failure), while JSON that does not decode is
 * `invalid_argument`. Our contract is that bad input gets a client error, so a
 * binary parse failure of a *request* is rewritten to invalid_argument, for
 * Connect (HTTP 400 + JSON body) and gRPC (grpc-status in headers/trailers).
 */
export function createRpcAdapter(opts: {
  routes: (router: ConnectRouter) => void;
  fallback: (req: NodeReq, res: NodeRes) => void;
  logger: Logger;
  readMaxBytes: number;
}): (req: NodeReq, res: NodeRes) => void {
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    // Responses are compressed only from this size on. connect-es' default
    // (1 KiB) gzips a stream frame of a few events with a fresh zlib context
    // each time: 7% of a gateway's CPU for a few hundred bytes saved per frame.
    // History pages and big catch-up batches still get compressed.
    compressMinBytes: COMPRESS_MIN_BYTES,
    // One request message is at most a max-size text plus envelope: anything
    // far bigger is refused (resource_exhausted) instead of being buffered.
    readMaxBytes: opts.readMaxBytes,
  });
  opts.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const h of router.handlers) paths.set(h.requestPath, h);

  return (req, res) => {
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) return opts.fallback(req, res);
    const uReq = universalRequestFromNodeRequest(req as never, res as never, undefined, undefined);
    handler(uReq)
      .then((uRes) => fixParseErrors(uRes))
      .then((uRes) => universalResponseToNodeResponse(uRes, res as never))
      .catch((reason) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        opts.logger.warn({ err: reason, rpc: handler.method.name }, "rpc handler failed");
      });
  };
}

function fixGrpcHeaders(h: Headers | undefined): void {
  if (!h || h.get("grpc-status") !== String(Code.Internal)) return;
  const message = decodeURIComponent(h.get("grpc-message") ?? "");
  if (!message.startsWith(PARSE_PREFIX)) return;
  h.set("grpc-status", String(Code.InvalidArgument));
  h.set("grpc-message", encodeURIComponent(REPLACEMENT));
}

async function fixParseErrors(uRes: UniversalServerResponse): Promise<UniversalServerResponse> {
  fixGrpcHeaders(uRes.header);
  if (uRes.trailer && uRes.body) {
    // Streaming responses fill their trailers at the end of the body.
    uRes.body = onBodyEnd(uRes.body, () => fixGrpcHeaders(uRes.trailer));
  } else {
    fixGrpcHeaders(uRes.trailer);
  }
  const isConnectError = uRes.status === 500 && uRes.header?.get("content-type")?.startsWith("application/json");
  if (!isConnectError || !uRes.body) return uRes;
  const chunks: Uint8Array[] = [];
  for await (const c of uRes.body) chunks.push(c);
  const text = Buffer.concat(chunks).toString("utf8");
  let parsed: { code?: string; message?: string } = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not ours to rewrite */
  }
  if (parsed.code === "internal" && parsed.message?.startsWith(PARSE_PREFIX)) {
    const bytes = new TextEncoder().encode(JSON.stringify({ code: "invalid_argument", message: REPLACEMENT }));
    uRes.header?.set("content-length", String(bytes.length));
    return { ...uRes, status: 400, body: (async function* () { yield bytes; })() };
  }
  return { ...uRes, body: (async function* () { yield Buffer.from(text); })() };
}

/**
 * The body, calling `atEnd` once it is exhausted. A plain delegating iterator
 * rather than an async generator: this sits on every frame of every stream,
 * and a generator's yield* costs several promise hops and closures per frame.
 */
function onBodyEnd(body: AsyncIterable<Uint8Array>, atEnd: () => void): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const inner = body[Symbol.asyncIterator]();
      return {
        next: () =>
          inner.next().then((r) => {
            if (r.done) atEnd();
            return r;
          }),
        return: (value?: unknown) => inner.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
        throw: (e?: unknown) => inner.throw?.(e) ?? Promise.reject(e),
      };
    },
  };
}
