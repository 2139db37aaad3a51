import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The process's Prometheus metrics (docs/operations.md lists them). One
 * registry per process, created in internal/app and passed down: no globals.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Client commands accepted into the log, by kind (send, ack, read). */
  readonly commands: Counter<"kind">;
  /** Client commands refused, by machine-readable reason. */
  readonly refusals: Counter<"reason">;
  /** Time for the log to acknowledge an append (gateway). */
  readonly logAppendSeconds: Histogram;
  /** Gateway acceptance -> worker push of a message (the server's share of end-to-end latency). */
  readonly deliveryLatencySeconds: Histogram;
  /** Worker store writes per log record kind. */
  readonly storeWriteSeconds: Histogram<"op">;
  /** Records per handled log batch (worker). */
  readonly batchRecords: Histogram;
  /** Age of the newest record of each handled batch: how far a worker is behind, per partition. */
  readonly consumerLagSeconds: Gauge<"partition">;
  /** Deliveries pushed to gateways (worker) / received from workers (gateway). */
  readonly pushedDeliveries: Counter;
  /** Presence changes delivered to watchers. */
  readonly presenceFanout: Counter;
  /** Sessions cut off (reason: SLOW_CONSUMER, HEARTBEAT_TIMEOUT, SESSION_REPLACED, SHUTTING_DOWN). */
  readonly sessionsClosed: Counter<"reason">;
  /** Frames written to device streams, and the events they carried (events / frames = batching). */
  readonly streamFrames: Counter;
  readonly streamEvents: Counter;
  /** Registers live values read at scrape time (open streams, queue depths). */
  gauge(name: string, help: string, read: () => number): void;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "chat_" });
  // Fine below 100 ms, where the targets are (p99 of 20 or 50 ms), coarse above.
  const latencyBuckets = [
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5,
  ];
  return {
    registry,
    commands: new Counter({ name: "chat_commands_total", help: "client commands accepted into the log", labelNames: ["kind"], registers: [registry] }),
    refusals: new Counter({ name: "chat_refusals_total", help: "client commands refused, by reason", labelNames: ["reason"], registers: [registry] }),
    logAppendSeconds: new Histogram({ name: "chat_log_append_seconds", help: "log append latency (acks=all)", buckets: latencyBuckets, registers: [registry] }),
    deliveryLatencySeconds: new Histogram({
      name: "chat_delivery_latency_seconds",
      help: "gateway acceptance to worker push of a message",
      buckets: latencyBuckets,
      registers: [registry],
    }),
    storeWriteSeconds: new Histogram({
      name: "chat_store_write_seconds",
      help: "worker store writes by operation",
      labelNames: ["op"],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    batchRecords: new Histogram({
      name: "chat_log_batch_records",
      help: "records per handled log batch",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
      registers: [registry],
    }),
    consumerLagSeconds: new Gauge({
      name: "chat_consumer_lag_seconds",
      help: "age of the newest record of the last handled batch, per partition",
      labelNames: ["partition"],
      registers: [registry],
    }),
    pushedDeliveries: new Counter({ name: "chat_push_deliveries_total", help: "deliveries pushed towards device streams", registers: [registry] }),
    presenceFanout: new Counter({ name: "chat_presence_fanout_total", help: "presence changes delivered to watchers", registers: [registry] }),
    sessionsClosed: new Counter({ name: "chat_sessions_closed_total", help: "device sessions ended by the server", labelNames: ["reason"], registers: [registry] }),
    streamFrames: new Counter({ name: "chat_stream_frames_total", help: "frames written to device streams", registers: [registry] }),
    streamEvents: new Counter({ name: "chat_stream_events_total", help: "events written to device streams (several per frame for clients that accept batches)", registers: [registry] }),
    gauge(name, help, read) {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    },
  };
}
