export { loadConfig, flagsToEnv, ConfigError } from "./config.ts";
export type {
  Config,
  GatewayConfig,
  PresenceConfig,
  AuthConfig,
  BackendsConfig,
  PushConfig,
  WorkerConfig,
  DeepPartial,
} from "./config.ts";
