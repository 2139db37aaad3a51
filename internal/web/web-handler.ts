import type http from "node:http";
import type { Logger } from "pino";
import { buildWebBundle, type WebAsset, type WebBundle, type WebBundleConfig } from "./web-bundle.ts";

/** Settings of the web client handler. */
export interface WebHandlerConfig extends WebBundleConfig {
  /** Build when the handler is created instead of on the first request. */
  readonly eager?: boolean;
}

/** What the handler uses. */
export interface WebHandlerDeps {
  readonly logger?: Logger;
}

/**
 * A gateway fallback route: answers the web client's paths and returns true,
 * or returns false for anything else (the gateway then answers 404).
 */
export type WebHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

const IMMUTABLE = "public, max-age=31536000, immutable";
// The shell must be revalidated on every load, or a deploy would never reach
// browsers; the ETag makes that a 304 when nothing changed.
const REVALIDATE = "no-cache";
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Paths this handler owns, decided before the bundle exists (names under /assets/ are hashed). */
const ownsPath = (path: string): boolean => path === "/" || path === "/index.html" || path === "/sw.js" || path.startsWith("/assets/");

function headersFor(asset: WebAsset, path: string): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": asset.contentType,
    "cache-control": asset.immutable ? IMMUTABLE : REVALIDATE,
    etag: asset.etag,
    vary: "accept-encoding",
    "x-content-type-options": "nosniff",
  };
  if (asset.contentType.startsWith("text/html")) {
    headers["content-security-policy"] = CSP;
    headers["referrer-policy"] = "no-referrer";
  }
  if (path === "/sw.js") headers["service-worker-allowed"] = "/";
  return headers;
}

function serve(bundle: WebBundle, path: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const asset = bundle.assets.get(path);
  if (!asset) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache" }).end("not found\n");
    return;
  }
  const headers = headersFor(asset, path);
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  const gzip = asset.gzip && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? "")) ? asset.gzip : undefined;
  const body = gzip ?? asset.body;
  res.writeHead(200, { ...headers, ...(gzip ? { "content-encoding": "gzip" } : {}), "content-length": String(body.length) });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * Serves the web client (index.html, the hashed JS and CSS bundle, the
 * service worker) from the gateway's port, next to the API. The bundle is
 * built once with Bun's bundler, at creation (`eager`) or on the first
 * request; a failed build is logged, answered with 500, and retried on the
 * next request.
 */
export function createWebHandler(cfg: WebHandlerConfig = {}, deps: WebHandlerDeps = {}): WebHandler {
  let building: Promise<WebBundle> | undefined;
  const bundle = (): Promise<WebBundle> => {
    if (typeof Bun === "undefined") return Promise.reject(new Error("the web client is built with Bun's bundler; run the gateway on Bun"));
    building ??= buildWebBundle(cfg).then(
      (built) => {
        deps.logger?.info({ version: built.version, files: built.assets.size }, "web client built");
        return built;
      },
      (err: unknown) => {
        building = undefined;
        throw err;
      },
    );
    return building;
  };
  if (cfg.eager) bundle().catch((err) => deps.logger?.error({ err }, "web client build failed"));

  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] as string;
    if (!ownsPath(path)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
      return true;
    }
    bundle().then(
      (built) => serve(built, path, req, res),
      (err: unknown) => {
        deps.logger?.error({ err }, "web client build failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end("web client unavailable\n");
      },
    );
    return true;
  };
}
