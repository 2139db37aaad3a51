import type { Producer } from "kafkajs";
import type { Logger } from "pino";
import type { LogAppend, LogPosition } from "../message-log.ts";
import { nextTurn, sleepUnlessAborted } from "../../domain/index.ts";
import { unavailable } from "./kafka-client.ts";

/** The write side of the Kafka log. */
export interface KafkaAppender {
  /** Opens the producer ahead of the first append. */
  connect(): Promise<void>;
  append(records: readonly LogAppend[]): Promise<LogPosition[]>;
  /** Rejects queued appends, lets the in-flight send settle, disconnects the producer. */
  close(): Promise<void>;
}

export interface KafkaAppenderParams {
  readonly topic: string;
  readonly partitionOf: (key: string) => number;
  /** Broker-side wait for acks=all per attempt. */
  readonly ackTimeoutMs: number;
  /** See KafkaLogConfig.produceIntervalMs. */
  readonly produceIntervalMs: number;
  /** Opens a connected idempotent producer (a new producer id each time). */
  readonly openProducer: () => Promise<Producer>;
}

interface PendingAppend {
  readonly records: readonly LogAppend[];
  readonly partitions: readonly number[];
  readonly bytes: number;
  readonly resolve: (positions: LogPosition[]) => void;
  readonly reject: (err: unknown) => void;
}

/*
 * One produce request carries at most this much: each partition's share must stay under the
 * broker's message.max.bytes (1 MiB by default on Kafka and Redpanda).
 */
const MAX_SEND_BYTES = 512 * 1024;
const MAX_SEND_RECORDS = 5_000;
/** Record overhead counted towards MAX_SEND_BYTES besides key and value. */
const RECORD_OVERHEAD_BYTES = 32;
/** Broker refusals of the records themselves: retrying the same records cannot help. */
const REFUSED_RECORD_ERRORS = new Set(["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD", "CORRUPT_MESSAGE"]);

/**
 * Group commit over an idempotent producer: appends that arrive while a send is in flight
 * (or in the same tick as the first, or within produceIntervalMs of the previous send's start)
 * go out together in the next single produce request.
 * kafkajs allows one in-flight request per broker for an idempotent producer anyway, so one
 * send at a time costs nothing and keeps each partition's records in append order.
 *
 * The partition is computed here and set on every message, so the producer writes exactly
 * where partitionOf says, whatever partitioner kafkajs would have picked.
 */
export function createKafkaAppender(params: KafkaAppenderParams, deps: { logger: Logger }): KafkaAppender {
  const { topic, partitionOf, ackTimeoutMs, produceIntervalMs, openProducer } = params;
  const logger = deps.logger;
  let queue: PendingAppend[] = [];
  let pumping: Promise<void> | undefined;
  let producer: Promise<Producer> | undefined;
  let closed = false;
  /** performance.now() when the last produce request started. */
  let lastSendAt = Number.NEGATIVE_INFINITY;
  /** Aborted by close: ends the pump's wait for the produce interval. */
  const closing = new AbortController();

  function connected(): Promise<Producer> {
    producer ??= openProducer().catch((err: unknown) => {
      producer = undefined;
      throw err;
    });
    return producer;
  }

  /**
   * After a failed send the broker may or may not have written it, and kafkajs has rolled its
   * sequence numbers back: the next different records would reuse them and the broker would
   * drop them as duplicates. A new producer id starts a fresh sequence space.
   */
  function dropProducer(): void {
    const old = producer;
    producer = undefined;
    old?.then((p) => p.disconnect()).catch((err: unknown) => logger.debug({ err }, "kafka producer disconnect failed"));
  }

  function schedule(): void {
    pumping ??= (async () => {
      // Let the appends of the current tick join the first send.
      await nextTurn();
      while (queue.length > 0) {
        const waitMs = lastSendAt + produceIntervalMs - performance.now();
        if (waitMs > 0) await sleepUnlessAborted(waitMs, closing.signal);
        if (queue.length === 0) break; // closed meanwhile
        lastSendAt = performance.now();
        await send(takeGroup());
      }
    })().finally(() => {
      pumping = undefined;
      if (queue.length > 0 && !closed) schedule();
    });
  }

  function takeGroup(): PendingAppend[] {
    let records = 0;
    let bytes = 0;
    let count = 0;
    for (const pending of queue) {
      const full = records + pending.records.length > MAX_SEND_RECORDS || bytes + pending.bytes > MAX_SEND_BYTES;
      if (count > 0 && full) break;
      records += pending.records.length;
      bytes += pending.bytes;
      count++;
    }
    const group = queue.slice(0, count);
    queue = queue.slice(count);
    return group;
  }

  async function send(group: readonly PendingAppend[]): Promise<void> {
    const messages = group.flatMap((pending) =>
      pending.records.map((record, i) => ({
        key: record.key,
        value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
        partition: pending.partitions[i]!,
      })),
    );
    let baseOffsets: Map<number, number>;
    try {
      const answer = await (await connected()).send({ topic, messages, acks: -1, timeout: ackTimeoutMs });
      baseOffsets = new Map(answer.map((meta) => [meta.partition, Number(meta.baseOffset ?? Number.NaN)]));
    } catch (err) {
      dropProducer();
      const refused = refusedRecordError(err);
      if (refused !== undefined) logger.error({ err, records: messages.length }, "kafka refused appended records");
      else logger.warn({ err, records: messages.length }, "kafka append failed");
      const failure = refused ?? unavailable("append", err);
      for (const pending of group) pending.reject(failure);
      return;
    }
    // Within one produce request a partition's records form one batch: consecutive offsets from
    // its base offset, in the order they were given.
    const next = new Map<number, number>();
    for (const pending of group) {
      const positions = pending.partitions.map((partition) => {
        const offset = next.get(partition) ?? baseOffsets.get(partition) ?? Number.NaN;
        next.set(partition, offset + 1);
        return { partition, offset };
      });
      if (positions.some((position) => !Number.isSafeInteger(position.offset))) {
        pending.reject(new Error("kafka produce response lacks a base offset for a partition"));
      } else {
        pending.resolve(positions);
      }
    }
  }

  return {
    async connect() {
      await connected();
    },
    append(records) {
      if (closed) return Promise.reject(unavailable("append", new Error("log closed")));
      if (records.length === 0) return Promise.resolve([]);
      const partitions = records.map((record) => partitionOf(record.key));
      const bytes = records.reduce((sum, r) => sum + r.key.length * 3 + r.value.byteLength + RECORD_OVERHEAD_BYTES, 0);
      return new Promise<LogPosition[]>((resolve, reject) => {
        queue.push({ records, partitions, bytes, resolve, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      const waiting = queue;
      queue = [];
      for (const pending of waiting) pending.reject(unavailable("append", new Error("log closed")));
      closing.abort();
      await pumping;
      const last = producer;
      producer = undefined;
      await last?.then((p) => p.disconnect()).catch((err: unknown) => logger.debug({ err }, "kafka producer disconnect failed"));
    },
  };
}

/** The broker's refusal of the records themselves, as a plain Error (not retryable), or undefined. */
function refusedRecordError(err: unknown): Error | undefined {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 5; depth++) {
    const type = (cause as { type?: unknown }).type;
    if (typeof type === "string" && REFUSED_RECORD_ERRORS.has(type)) {
      return new Error(`kafka refused the appended records: ${type}`, { cause: err });
    }
    cause = cause.cause;
  }
  return undefined;
}
