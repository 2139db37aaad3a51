export type {
  MessageLog,
  LogAppend,
  LogPosition,
  LogRecord,
  LogBatch,
  ConsumeOptions,
} from "./message-log.ts";
