export { createEmbeddedApp } from "./embedded-app.ts";
export type { App, AppDeps } from "./embedded-app.ts";
export { startEmbeddedServer } from "./test-server.ts";
export type { RunningServer } from "./test-server.ts";
