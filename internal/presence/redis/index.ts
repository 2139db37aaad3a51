export { createRedisPresenceStore } from "./redis-presence.ts";
export { parseRedisUrl } from "../../routing/redis/index.ts";
export type { RedisConfig } from "../../routing/redis/index.ts";
