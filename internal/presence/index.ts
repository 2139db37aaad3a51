export type { PresenceStore, PresenceState, PresenceChange } from "./presence-store.ts";
