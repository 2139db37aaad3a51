import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createWebHandler } from "./web-handler.ts";

// The handler behind a plain HTTP server, as the gateway's fallback uses it:
// unowned paths fall through to the server's own 404 ("fallthrough").
let server: http.Server;
let base = "";

beforeAll(async () => {
  const web = createWebHandler({ eager: true });
  server = http.createServer((req, res) => {
    if (!web(req, res)) res.writeHead(404, { "content-type": "text/plain" }).end("fallthrough");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
  fetch(`${base}${path}`, { method, headers, decompress: false } as RequestInit);

/** The script and stylesheet paths index.html points at. */
async function shellAssets(): Promise<{ script: string; stylesheet: string }> {
  const html = await (await get("/")).text();
  const script = /<script type="module" src="([^"]+)"/.exec(html)?.[1];
  const stylesheet = /<link rel="stylesheet" href="([^"]+)"/.exec(html)?.[1];
  if (!script || !stylesheet) throw new Error(`index.html names no script or stylesheet:\n${html}`);
  return { script, stylesheet };
}

describe("web client handler", () => {
  test("serves index.html at / with revalidation, a CSP, and hashed asset links", async () => {
    const response = await get("/");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
    const { script, stylesheet } = await shellAssets();
    expect(script).toMatch(/^\/assets\/main-[a-z0-9]+\.js$/);
    expect(stylesheet).toMatch(/^\/assets\/styles-[a-z0-9]+\.css$/);
  });

  test.each([
    { asset: "script" as const, type: "text/javascript; charset=utf-8" },
    { asset: "stylesheet" as const, type: "text/css; charset=utf-8" },
  ])("serves the $asset with its content type, cacheable forever", async ({ asset, type }) => {
    const path = (await shellAssets())[asset];
    const response = await get(path);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(type);
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  });

  test("serves the service worker at /sw.js, revalidated, with the shell URLs built in", async () => {
    const { script, stylesheet } = await shellAssets();
    const response = await get("/sw.js");
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    const body = await response.text();
    expect(body).toContain(script);
    expect(body).toContain(stylesheet);
  });

  test("gzips when the client accepts it", async () => {
    const { script } = await shellAssets();
    const plain = await get(script);
    const zipped = await get(script, { "accept-encoding": "gzip, br" });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(Number(zipped.headers.get("content-length"))).toBeLessThan(Number(plain.headers.get("content-length")));
    expect(plain.headers.get("content-encoding")).toBeNull();
  });

  test("answers 304 to a matching If-None-Match", async () => {
    const first = await get("/");
    const etag = first.headers.get("etag") ?? "";
    expect(etag).not.toBe("");
    const again = await get("/", { "if-none-match": etag });
    expect(again.status).toBe(304);
  });

  test.each([
    { name: "an unknown hashed asset is a 404 of its own", path: "/assets/main-nope.js", method: "GET", status: 404, body: "not found\n" },
    { name: "a non-GET on a web path is refused", path: "/", method: "POST", status: 405, body: "method not allowed\n" },
    { name: "an RPC path falls through", path: "/chat.v1.ChatService/ListConversations", method: "POST", status: 404, body: "fallthrough" },
    { name: "any other path falls through", path: "/healthz", method: "GET", status: 404, body: "fallthrough" },
  ])("$name", async ({ path, method, status, body }) => {
    const response = await get(path, {}, method);
    expect(response.status).toBe(status);
    expect(await response.text()).toBe(body);
  });
});
