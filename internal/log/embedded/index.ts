export { createEmbeddedLog, type EmbeddedLogConfig } from "./embedded-log.ts";
