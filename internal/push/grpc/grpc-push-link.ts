import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { GatewayId } from "../../domain/index.ts";
import type { GatewayRegistry } from "../../routing/index.ts";
import type { Delivery, PushLink } from "../push-link.ts";
import { DEFAULT_GRPC_PUSH_LINK_CONFIG, type GrpcPushLinkConfig } from "./grpc-push-config.ts";
import { pushMethod, type PushAck } from "./push-service.ts";

/** A {@link PushLink} that owns network streams, hence `close`. */
export interface GrpcPushLink extends PushLink {
  /** Writes what is already queued, ends every stream, and drops later pushes. */
  close(): Promise<void>;
}

type PushStream = grpc.ClientWritableStream<readonly Delivery[]>;

interface Pending {
  readonly deliveries: readonly Delivery[];
  readonly handedOver: () => void;
}

/** Everything the link holds for one target gateway. */
interface Lane {
  readonly gatewayId: GatewayId;
  phase: "idle" | "connecting" | "open" | "backoff";
  /** Pushes not yet written to the stream, in push order. */
  queue: Pending[];
  queuedDeliveries: number;
  flushScheduled: boolean;
  client: grpc.Client | undefined;
  address: string | undefined;
  stream: PushStream | undefined;
  openedAtMs: number;
  /** False between a `write` that returned false and the next "drain". */
  writable: boolean;
  /** Consecutive failures, for the backoff exponent. */
  failures: number;
  /** The backoff or stall timer, whichever the phase needs. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Deliveries dropped since the last successful write, for one log line per episode. */
  dropped: number;
  /** Whether a push came during the current backoff: a lane nobody wants is forgotten. */
  wanted: boolean;
}

const CLOSE_WAIT_MS = 1_000;

/**
 * Creates the distributed {@link PushLink}: one long-lived client stream per
 * target gateway, opened on first use at the address the registry gives.
 *
 * - Ordered: one FIFO queue and one stream per gateway; a replacement stream
 *   is only opened after the old one ended, so batches never overtake.
 * - Batched: pushes issued in the same tick are coalesced into one stream
 *   message (split past `maxDeliveriesPerMessage`).
 * - Bounded: a gateway's queue holds at most `maxBufferedDeliveries`; past it,
 *   or while the gateway is in reconnect backoff, pushes are dropped and
 *   logged once per episode. A stream that does not drain within
 *   `stallTimeoutMs` is cut. Best effort is the port contract: devices catch
 *   up from their cursors, and `prev_seq` makes a dropped message a visible gap.
 * - A gateway unknown to the registry is dropped silently (it is gone).
 *
 * `push` resolves once its batch is handed to the stream (not when delivered)
 * or dropped; waiting is bounded by `connectTimeoutMs` and `stallTimeoutMs`,
 * and a slow or dead gateway never holds up pushes to another one.
 */
export function createGrpcPushLink(
  cfg: Partial<GrpcPushLinkConfig>,
  deps: { registry: GatewayRegistry; logger: Logger },
): GrpcPushLink {
  const c: GrpcPushLinkConfig = { ...DEFAULT_GRPC_PUSH_LINK_CONFIG, ...cfg };
  const logger = deps.logger.child({ component: "push-link" });
  const lanes = new Map<GatewayId, Lane>();
  let closed = false;

  const isCurrent = (lane: Lane) => !closed && lanes.get(lane.gatewayId) === lane;

  function laneOf(gatewayId: GatewayId): Lane {
    let lane = lanes.get(gatewayId);
    if (lane === undefined) {
      lane = {
        gatewayId,
        phase: "idle",
        queue: [],
        queuedDeliveries: 0,
        flushScheduled: false,
        client: undefined,
        address: undefined,
        stream: undefined,
        openedAtMs: 0,
        writable: false,
        failures: 0,
        timer: undefined,
        dropped: 0,
        wanted: false,
      };
      lanes.set(gatewayId, lane);
    }
    return lane;
  }

  function drop(lane: Lane, count: number, reason: string): void {
    if (count === 0) return;
    if (lane.dropped === 0) logger.warn({ gatewayId: lane.gatewayId, reason }, "dropping pushes to gateway");
    lane.dropped += count;
  }

  /** Resolves every queued push without writing it. */
  function releaseQueue(lane: Lane): Pending[] {
    const released = lane.queue;
    lane.queue = [];
    lane.queuedDeliveries = 0;
    for (const p of released) p.handedOver();
    return released;
  }

  /**
   * Removes a lane with nothing to do, so the map only holds gateways still
   * pushed to (gateway ids change on every restart).
   */
  function forget(lane: Lane): void {
    releaseQueue(lane);
    clearTimeout(lane.timer);
    lane.client?.close();
    if (lanes.get(lane.gatewayId) === lane) lanes.delete(lane.gatewayId);
  }

  async function connect(lane: Lane): Promise<void> {
    lane.phase = "connecting";
    let address: string | undefined;
    try {
      address = await deps.registry.lookup(lane.gatewayId);
    } catch (err) {
      if (isCurrent(lane)) fail(lane, "registry lookup failed", err);
      return;
    }
    if (!isCurrent(lane)) return;
    if (address === undefined) {
      // Unknown (or withdrawn) gateway: its devices are gone; the contract says drop silently.
      forget(lane);
      return;
    }
    let client = lane.client;
    if (client === undefined || address !== lane.address) {
      client?.close();
      client = new grpc.Client(address, grpc.credentials.createInsecure(), {
        // Detects a gateway that died without closing its sockets.
        "grpc.keepalive_time_ms": c.keepaliveMs,
        "grpc.keepalive_timeout_ms": c.connectTimeoutMs,
        // Our backoff decides; a channel shared with another lane would carry its state over.
        "grpc.use_local_subchannel_pool": 1,
        "grpc.initial_reconnect_backoff_ms": c.reconnectBaseMs,
        "grpc.max_reconnect_backoff_ms": c.reconnectMaxMs,
      });
      lane.client = client;
      lane.address = address;
    }
    awaitReady(client, c.connectTimeoutMs, (err) => {
      if (!isCurrent(lane) || lane.phase !== "connecting" || lane.client !== client) return;
      if (err) fail(lane, "unreachable", err);
      else openStream(lane, client);
    });
  }

  function openStream(lane: Lane, client: grpc.Client): void {
    const { path, requestSerialize, responseDeserialize } = pushMethod;
    const stream: PushStream = client.makeClientStreamRequest<readonly Delivery[], PushAck>(
      path,
      requestSerialize,
      responseDeserialize,
      (err) => streamEnded(lane, stream, err),
    );
    stream.on("drain", () => {
      if (lane.stream !== stream) return;
      lane.writable = true;
      clearTimeout(lane.timer);
      flush(lane);
    });
    Object.assign(lane, { phase: "open", stream, writable: true, openedAtMs: performance.now() });
    logger.debug({ gatewayId: lane.gatewayId, address: lane.address }, "push stream opened");
    flush(lane);
  }

  function streamEnded(lane: Lane, stream: PushStream, err: grpc.ServiceError | null): void {
    if (lane.stream !== stream) return;
    lane.stream = undefined;
    clearTimeout(lane.timer);
    if (!isCurrent(lane)) return;
    logger.info({ gatewayId: lane.gatewayId, code: err?.code }, "push stream ended");
    if (performance.now() - lane.openedAtMs < c.reconnectMaxMs) {
      // A stream that dies younger than the backoff ceiling (gateway
      // restarting, refusing us) is a failure: back off instead of spinning.
      fail(lane, "stream ended early", err);
      return;
    }
    // A long-lived stream broke: retry at once, the queued pushes may still
    // make it; with none queued, the next push decides.
    lane.failures = 0;
    lane.phase = "idle";
    if (lane.queue.length > 0) void connect(lane);
    else forget(lane);
  }

  /** Drops what waits, then refuses pushes for a jittered, growing delay. */
  function fail(lane: Lane, reason: string, err: unknown): void {
    lane.failures += 1;
    const ceilingMs = Math.min(c.reconnectMaxMs, c.reconnectBaseMs * 2 ** (lane.failures - 1));
    const delayMs = Math.random() * ceilingMs; // full jitter: many workers must not reconnect in step
    const { gatewayId, failures } = lane;
    logger.warn({ gatewayId, reason, err, failures, delayMs }, "push to gateway failed; backing off");
    const released = releaseQueue(lane);
    drop(lane, released.reduce((n, p) => n + p.deliveries.length, 0), reason);
    lane.phase = "backoff";
    lane.wanted = false;
    const stream = lane.stream;
    lane.stream = undefined; // first: cancel() may report the stream's end synchronously
    stream?.cancel();
    // A fresh channel next time: grpc-js keeps its own reconnect backoff per channel.
    lane.client?.close();
    lane.client = undefined;
    lane.address = undefined;
    clearTimeout(lane.timer);
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      if (lane.phase !== "backoff") return;
      lane.phase = "idle";
      // Kept (with its failure count) only while someone still pushes to it.
      if (!lane.wanted) forget(lane);
    }, delayMs);
  }

  function scheduleFlush(lane: Lane): void {
    if (lane.flushScheduled) return;
    lane.flushScheduled = true;
    // setImmediate, not a microtask: pushes issued by other callbacks of this
    // turn of the event loop join the same stream message.
    setImmediate(() => {
      lane.flushScheduled = false;
      flush(lane);
    });
  }

  function flush(lane: Lane): void {
    const stream = lane.stream;
    if (lane.phase !== "open" || stream === undefined || !lane.writable || lane.queue.length === 0) return;
    const batch = lane.queue;
    lane.queue = [];
    lane.queuedDeliveries = 0;
    const deliveries = batch.length === 1 ? batch[0]!.deliveries : batch.flatMap((p) => p.deliveries);
    let accepted = true;
    for (let at = 0; at < deliveries.length; at += c.maxDeliveriesPerMessage) {
      // Already dequeued, so written even past a `false`: the overshoot is
      // bounded by one queue's worth.
      accepted = stream.write(deliveries.slice(at, at + c.maxDeliveriesPerMessage)) && accepted;
    }
    for (const p of batch) p.handedOver();
    if (lane.dropped > 0) {
      logger.info({ gatewayId: lane.gatewayId, dropped: lane.dropped }, "pushes to gateway resumed after drops");
      lane.dropped = 0;
    }
    if (!accepted) {
      lane.writable = false;
      lane.timer = setTimeout(() => {
        if (lane.stream === stream && !lane.writable) fail(lane, "stream stalled", undefined);
      }, c.stallTimeoutMs);
    }
  }

  return {
    push(gatewayId, deliveries) {
      if (closed || deliveries.length === 0) return Promise.resolve();
      const lane = laneOf(gatewayId);
      if (lane.phase === "backoff") {
        lane.wanted = true;
        drop(lane, deliveries.length, "gateway in reconnect backoff");
        return Promise.resolve();
      }
      if (lane.queuedDeliveries + deliveries.length > c.maxBufferedDeliveries) {
        drop(lane, deliveries.length, "push buffer full");
        return Promise.resolve();
      }
      return new Promise<void>((handedOver) => {
        // A copy: the caller may reuse its array before the flush.
        lane.queue.push({ deliveries: [...deliveries], handedOver });
        lane.queuedDeliveries += deliveries.length;
        if (lane.phase === "idle") void connect(lane);
        else if (lane.phase === "open") scheduleFlush(lane);
      });
    },

    async close() {
      if (closed) return;
      for (const lane of lanes.values()) flush(lane);
      closed = true;
      await Promise.all([...lanes.values()].map(closeLane));
      lanes.clear();
    },
  };

  async function closeLane(lane: Lane): Promise<void> {
    clearTimeout(lane.timer);
    releaseQueue(lane);
    const stream = lane.stream;
    if (stream !== undefined) {
      // end() sends what is buffered first; the gateway answers when it has read it all.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_WAIT_MS);
        stream.once("status", () => (clearTimeout(timer), resolve()));
        stream.end();
      });
    }
    lane.client?.close();
  }
}

/**
 * Calls back once the channel is connected, or with an error as soon as it
 * fails or `timeoutMs` passes. Not `client.waitForReady`: that one sits out a
 * refused connection until its deadline, and without any deadline a call to a
 * black-holed address would wait forever.
 */
function awaitReady(client: grpc.Client, timeoutMs: number, done: (err?: Error) => void): void {
  const channel = client.getChannel();
  const deadline = Date.now() + timeoutMs;
  const check = () => {
    const state = channel.getConnectivityState(true);
    if (state === grpc.connectivityState.READY) return done();
    if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) {
      return done(new Error(`push channel ${grpc.connectivityState[state]}`));
    }
    channel.watchConnectivityState(state, deadline, (err) => (err ? done(err) : check()));
  };
  check();
}
