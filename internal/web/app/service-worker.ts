/**
 * The app shell's service worker: index.html and the hashed bundle are
 * cached at install, so the app opens with no network; RPC calls are never
 * touched (they must fail offline, which is how the outbox knows to wait).
 *
 * Bundled on its own by web-bundle.ts with CHAT_SHELL defined.
 */

declare const CHAT_SHELL: { readonly version: string; readonly urls: readonly string[] };

// Minimal service-worker types: the project's lib is DOM, not WebWorker.
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}
interface WorkerScope {
  addEventListener(type: "install" | "activate", listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: "fetch", listener: (event: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: Location;
}

const scope = self as unknown as WorkerScope;
const CACHE = `chat-shell-${CHAT_SHELL.version}`;
const SHELL = new Set(CHAT_SHELL.urls);
const NETWORK_TIMEOUT_MS = 3_000;

scope.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SHELL]))
      .then(() => scope.skipWaiting()),
  );
});

scope.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("chat-shell-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => scope.clients.claim()),
  );
});

/** The network within a timeout, else the cached shell: fresh when online, still there when not. */
async function networkFirst(request: Request, cacheKey: string): Promise<Response> {
  try {
    const response = await fetch(request, { signal: AbortSignal.timeout(NETWORK_TIMEOUT_MS) });
    if (response.ok) return response;
  } catch {
    // offline or unreachable: fall through to the cache
  }
  const cached = await caches.match(cacheKey, { cacheName: CACHE });
  return cached ?? new Response("offline and not cached", { status: 503, headers: { "content-type": "text/plain" } });
}

scope.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== scope.location.origin) return;
  if (request.mode === "navigate" || url.pathname === "/index.html") {
    event.respondWith(networkFirst(request, "/"));
    return;
  }
  // Hashed assets never change: the cache is always right.
  if (SHELL.has(url.pathname)) {
    event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((hit) => hit ?? fetch(request)));
  }
});
