export { runCatchUp } from "./catch-up.ts";
export type { SyncItem, CatchUpConfig, CatchUpResult } from "./catch-up.ts";
