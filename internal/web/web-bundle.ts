import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** One file the web handler serves. */
export interface WebAsset {
  readonly contentType: string;
  readonly body: Uint8Array;
  /** The body gzipped, when that makes it smaller. */
  readonly gzip?: Uint8Array;
  /** Content-addressed (hashed name): cacheable forever. Otherwise revalidated on every load. */
  readonly immutable: boolean;
  readonly etag: string;
}

/** The built web client: request path -> asset. */
export interface WebBundle {
  /** Changes whenever any built file changes (names the service worker's cache). */
  readonly version: string;
  readonly assets: ReadonlyMap<string, WebAsset>;
}

/** Build options. */
export interface WebBundleConfig {
  /** Minify JS and CSS (default true). */
  readonly minify?: boolean;
}

const APP_DIR = fileURLToPath(new URL("./app/", import.meta.url));
const ASSET_PREFIX = "/assets/";

const contentTypes: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
  map: "application/json; charset=utf-8",
};
const contentTypeOf = (path: string): string => contentTypes[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream";

const hashOf = (body: Uint8Array): string => new Bun.CryptoHasher("sha256").update(body).digest("hex").slice(0, 16);

function asset(path: string, body: Uint8Array, immutable: boolean): WebAsset {
  // Small files gain nothing from gzip and cost a header; skip them.
  const gzip = body.length > 1024 ? new Uint8Array(gzipSync(body, { level: 9 })) : undefined;
  return {
    contentType: contentTypeOf(path),
    body,
    ...(gzip && gzip.length < body.length ? { gzip } : {}),
    immutable,
    etag: `"${hashOf(body)}"`,
  };
}

async function build(config: Parameters<typeof Bun.build>[0]): Promise<Bun.BuildArtifact[]> {
  const result = await Bun.build(config);
  if (!result.success) {
    throw new AggregateError(result.logs, `web client build failed: ${result.logs.map((l) => l.message).join("; ")}`);
  }
  return result.outputs;
}

function indexHtml(script: string, stylesheet: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#008069">
<meta name="description" content="One-to-one chat with delivery ticks, presence and offline compose.">
<title>Chat</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${stylesheet}">
<script type="module" src="${script}"></script>
</head>
<body>
<div id="app"></div>
<noscript>This chat needs JavaScript.</noscript>
</body>
</html>
`;
}

/**
 * Bundles the web client with Bun's bundler, in memory: the app (Preact +
 * the SDK + Connect-Web) and its stylesheet under hashed names, index.html
 * pointing at them, and the service worker at `/sw.js` with the shell's URL
 * list built in. Bun only (the gateway runs on Bun).
 */
export async function buildWebBundle(cfg: WebBundleConfig = {}): Promise<WebBundle> {
  const minify = cfg.minify ?? true;
  const outputs = await build({
    entrypoints: [`${APP_DIR}main.tsx`, `${APP_DIR}styles.css`],
    target: "browser",
    format: "esm",
    minify,
    naming: "[name]-[hash].[ext]",
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
  });
  const assets = new Map<string, WebAsset>();
  let script = "";
  let stylesheet = "";
  for (const output of outputs) {
    const name = output.path.replace(/^\.\//, "");
    const path = `${ASSET_PREFIX}${name}`;
    assets.set(path, asset(path, new Uint8Array(await output.arrayBuffer()), true));
    if (name.startsWith("main-") && name.endsWith(".js")) script = path;
    if (name.startsWith("styles-") && name.endsWith(".css")) stylesheet = path;
  }
  if (!script || !stylesheet) throw new Error(`web client build produced no script or stylesheet: ${[...assets.keys()].join(", ")}`);

  const html = asset("/index.html", new TextEncoder().encode(indexHtml(script, stylesheet)), false);
  const version = hashOf(new TextEncoder().encode([...assets.values()].map((a) => a.etag).join() + html.etag));
  const [worker] = await build({
    entrypoints: [`${APP_DIR}service-worker.ts`],
    target: "browser",
    format: "esm",
    minify,
    define: { CHAT_SHELL: JSON.stringify({ version, urls: ["/", ...assets.keys()] }) },
  });
  if (!worker) throw new Error("web client build produced no service worker");
  assets.set("/", html);
  assets.set("/index.html", html);
  assets.set("/sw.js", asset("/sw.js", new Uint8Array(await worker.arrayBuffer()), false));
  return { version, assets };
}
