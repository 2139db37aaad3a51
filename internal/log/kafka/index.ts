export { createKafkaLog } from "./kafka-log.ts";
export { PartitionCountMismatchError } from "./ensure-topic.ts";
export { createPlainKafkaClient } from "./kafka-client.ts";
export {
  type KafkaLogConfig,
  type ResolvedKafkaLogConfig,
  KAFKA_LOG_DEFAULTS,
  parseKafkaUrl,
  resolveKafkaLogConfig,
} from "./kafka-log-config.ts";
