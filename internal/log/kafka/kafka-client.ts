import { Kafka, type LogEntry, logLevel } from "kafkajs";
import type { Logger } from "pino";
import { BackendUnavailableError } from "../../domain/index.ts";
import type { ResolvedKafkaLogConfig } from "./kafka-log-config.ts";
import { installRequestQueueTimerFix } from "./request-queue-timer.ts";

/*
 * kafkajs plumbing shared by the producer, the admin client and the consumers:
 * client construction (timeouts, bounded retries, logs into pino) and error
 * classification.
 */

const CONNECTION_TIMEOUT_MS = 3_000;
const BOUNDED_RETRIES_WARNING = "Limiting retries for the idempotent producer may invalidate EoS guarantees";
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2_000;
/** Client-side slack over the broker-side produce timeout, so the broker's answer wins the race. */
const REQUEST_TIMEOUT_SLACK_MS = 2_000;

/** Retry policy of every kafkajs call: a few quick attempts, then the caller sees the failure. */
export function retryOptions(cfg: ResolvedKafkaLogConfig) {
  return { retries: cfg.retries, initialRetryTime: RETRY_INITIAL_MS, maxRetryTime: RETRY_MAX_MS };
}

/**
 * A kafkajs client whose logs go to `logger`. Each consume() gets its own client: kafkajs
 * shares a committed-offset cache between consumers of one client that are in the same
 * group, which would let one member's rebalance clear another member's offsets.
 */
export function createKafkaClient(cfg: ResolvedKafkaLogConfig, clientId: string, logger: Logger): Kafka {
  installRequestQueueTimerFix();
  return new Kafka({
    clientId,
    brokers: [...cfg.brokers],
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: cfg.requestTimeoutMs + REQUEST_TIMEOUT_SLACK_MS,
    retry: retryOptions(cfg),
    logLevel: logLevel.INFO,
    logCreator: () => (entry) => logKafkajsEntry(logger, entry),
  });
}

/**
 * A silent kafkajs client for tools and tests (admin work around a cluster), with the same
 * request-queue timer fix as the adapter's clients.
 */
export function createPlainKafkaClient(brokers: readonly string[], clientId: string): Kafka {
  installRequestQueueTimerFix();
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
}

function logKafkajsEntry(logger: Logger, entry: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _source, ...fields } = entry.log;
  const record = { namespace: entry.namespace, ...fields };
  // kafkajs logs every error response of a request ("Response Heartbeat", ...) as ERROR, although
  // the caller handles it (a rebalance is routine); the callers log what matters. Other ERRORs are
  // mostly retried, self-healing conditions, kept as warnings; INFO chatter (joins, pauses) is debug.
  // The idempotent producer's warning about bounded retries is answered by the appender, which
  // replaces the producer (new producer id) after a send that gave up.
  const handledByCaller =
    (entry.namespace === "Connection" && message.startsWith("Response ")) || message === BOUNDED_RETRIES_WARNING;
  if ((entry.level === logLevel.ERROR || entry.level === logLevel.WARN) && !handledByCaller) logger.warn(record, message);
  else logger.debug(record, message);
}

/** Wraps a kafkajs failure so that callers (the gateway) know they may retry. */
export function unavailable(doing: string, cause: unknown): BackendUnavailableError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BackendUnavailableError("log", `kafka ${doing} failed: ${reason}`, { cause });
}

/**
 * True when a group request failed because this member's generation is over: the group is
 * rebalancing, the member was dropped, or the coordinator moved. Its partitions may already
 * be on their way to another member, so nothing more may be committed for them.
 */
export function isGenerationLost(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return (
    type === "REBALANCE_IN_PROGRESS" ||
    type === "ILLEGAL_GENERATION" ||
    type === "UNKNOWN_MEMBER_ID" ||
    type === "NOT_COORDINATOR_FOR_GROUP" ||
    type === "FENCED_INSTANCE_ID"
  );
}
