export type { PresenceStore, PresenceState, PresenceChange } from "./presence-store.ts";
export { createPresenceService } from "./presence-service.ts";
export type { PresenceService, PresenceServiceConfig, PresenceServiceDeps } from "./presence-service.ts";
export type { PresenceDeliver } from "./presence-fanout.ts";
