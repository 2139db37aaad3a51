export { createLocalPushHub } from "./local-push-hub.ts";
export type { LocalPushHub } from "./local-push-hub.ts";
