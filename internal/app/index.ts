export { createApp } from "./node.ts";
export type { App, AppDeps, Role } from "./node.ts";
export { openBackends } from "./backends.ts";
export type { Backends } from "./backends.ts";
export { startEmbeddedServer } from "./test-server.ts";
export type { RunningServer } from "./test-server.ts";
export { runMain } from "./run-main.ts";
