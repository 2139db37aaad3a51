export { loadConfig, flagsToEnv, ConfigError } from "./config.ts";
export type { Config, GatewayConfig, PresenceConfig, AuthConfig, DeepPartial } from "./config.ts";
