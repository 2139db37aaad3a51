export { createMemoryPresenceStore } from "./memory-presence.ts";
