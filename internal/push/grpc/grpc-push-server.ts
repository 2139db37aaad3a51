import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Delivery, DeliverySink } from "../push-link.ts";
import { pushServiceDefinition, type PushAck } from "./push-service.ts";

export interface GrpcPushServerConfig {
  /** Interface to listen on, e.g. "127.0.0.1" or "0.0.0.0". */
  readonly host: string;
  /** TCP port; 0 picks a free one (see `address`). */
  readonly port: number;
}

export interface RunningPushServer {
  /** "host:port" actually bound (a wildcard host stays as given: announce an advertised host with `port`). */
  readonly address: string;
  /** The bound port, useful when `port` was 0. */
  readonly port: number;
  /** Stops listening and cuts the open push streams (pushes are best effort). */
  close(): Promise<void>;
}

/**
 * Generous on purpose: a batch is bounded by the sender's per-message cap
 * (deliveries x maximum body size), and this endpoint is internal.
 */
const MAX_BATCH_BYTES = 64 * 1024 * 1024;

/**
 * Starts the gateway's internal push endpoint (DESIGN §6): workers open one
 * long-lived `GatewayPushService/Push` stream each, and every batch they write
 * is handed to `sink` in arrival order, synchronously, so the order of one
 * stream is the order the gateway's device streams see.
 */
export async function startGrpcPushServer(
  cfg: GrpcPushServerConfig,
  deps: { sink: DeliverySink; logger: Logger },
): Promise<RunningPushServer> {
  const logger = deps.logger.child({ component: "push-server" });
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_BATCH_BYTES });

  server.addService(pushServiceDefinition, {
    push(call: grpc.ServerReadableStream<readonly Delivery[], PushAck>, done: grpc.sendUnaryData<PushAck>) {
      const peer = call.getPeer();
      logger.debug({ peer }, "push stream opened");
      call.on("data", (deliveries: readonly Delivery[]) => {
        if (deliveries.length === 0) return;
        try {
          deps.sink(deliveries);
        } catch (err) {
          // A sink failure is a gateway bug; the stream (shared by many
          // devices) stays up and the affected devices resync from cursors.
          logger.error({ err, peer, deliveries: deliveries.length }, "push sink failed");
        }
      });
      call.on("end", () => done(null, {}));
      call.on("error", (err) => logger.debug({ err, peer }, "push stream ended with an error"));
    },
  });

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${cfg.host}:${cfg.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  const address = `${cfg.host.includes(":") ? `[${cfg.host}]` : cfg.host}:${port}`;
  logger.info({ address }, "push server listening");

  let closed = false;
  return {
    address,
    port,
    async close() {
      if (closed) return;
      closed = true;
      // Not tryShutdown: worker streams never end on their own, so a graceful
      // shutdown would only wait. Senders reconnect elsewhere or drop.
      server.forceShutdown();
      logger.info({ address }, "push server closed");
    },
  };
}
