import { createConnectTransport } from "@connectrpc/connect-web";
import { render } from "preact";
import { App } from "./app.tsx";
import { createDeviceSessions } from "./device-session.ts";

/**
 * Entry point of the browser bundle. The API is on the same origin as the
 * page (the gateway serves both), over Connect with binary protobuf; the
 * SDK runs in "subscribe" mode (server stream + unary calls).
 */
const transport = createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true });
const sessions = createDeviceSessions({ storage: localStorage, transport, deviceName: "web", nowMs: () => Date.now() });

const root = document.getElementById("app");
if (root) render(<App sessions={sessions} transport={transport} />, root);

// The service worker keeps the app shell, so a reload while offline still
// opens the app (and its outbox in IndexedDB). Marked on <html> once active.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker
    .register("/sw.js", { scope: "/" })
    .then(() => navigator.serviceWorker.ready)
    .then(() => document.documentElement.setAttribute("data-offline-ready", "true"))
    .catch((err: unknown) => console.warn("service worker not installed; no offline reload", err));
}
