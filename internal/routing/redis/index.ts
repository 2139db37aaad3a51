export { createRedisRoutingTable } from "./redis-routing.ts";
export { createRedisGatewayRegistry } from "./redis-gateway-registry.ts";
export {
  parseRedisUrl,
  openRedisClient,
  closeRedisClient,
  toBackendError,
  execPipeline,
  serverTimeMs,
  deleteKeysWithPrefix,
  DEFAULT_KEY_PREFIX,
  COMMAND_TIMEOUT_MS,
} from "./redis-client.ts";
export type { RedisConfig } from "./redis-client.ts";
export { defineScripts, callScript, LUA_NOW_MS } from "./lua-script.ts";
export type { LuaScript } from "./lua-script.ts";
