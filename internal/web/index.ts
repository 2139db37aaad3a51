/**
 * The web client: a Preact app on the SDK (Connect-Web, "subscribe" mode,
 * IndexedDB storage), bundled by Bun and served by the gateway at `/`.
 */
export { createWebHandler } from "./web-handler.ts";
export type { WebHandler, WebHandlerConfig, WebHandlerDeps } from "./web-handler.ts";
export { buildWebBundle } from "./web-bundle.ts";
export type { WebAsset, WebBundle, WebBundleConfig } from "./web-bundle.ts";
