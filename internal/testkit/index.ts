export { realBackends, describeWithBackends, describeWhenAvailable } from "./real-backends.ts";
export type { RealBackends, BackendName } from "./real-backends.ts";
export { startPrivateRedis, redisServerBinary } from "./private-redis.ts";
export type { PrivateRedis } from "./private-redis.ts";
export { freePort } from "./free-port.ts";
