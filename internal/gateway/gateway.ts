import { Code } from "@connectrpc/connect";
import type { ConnectRouter } from "@connectrpc/connect";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { AuthService } from "../../gen/chat/v1/auth_service_pb.ts";
import { ChatService } from "../../gen/chat/v1/chat_service_pb.ts";
import type { Accounts, TokenSigner } from "../auth/index.ts";
import type { Clock, GatewayId } from "../domain/index.ts";
import type { MessageLog } from "../log/index.ts";
import type { PresenceService } from "../presence/index.ts";
import type { DeliverySink, PushLink } from "../push/index.ts";
import type { RoutingTable } from "../routing/index.ts";
import type { AccountStore, MessageStore } from "../store/index.ts";
import { createAuthHandlers } from "./auth-handlers.ts";
import { createCommands } from "./commands.ts";
import { createConversationViews } from "./conversation-views.ts";
import { createDualProtocolListener } from "./dual-protocol-listener.ts";
import { guardService } from "./guard.ts";
import { createRateLimiter } from "./rate-limiter.ts";
import { toConnectError } from "./error-mapping.ts";
import { createGrpcStreamPath } from "./grpc-stream-path.ts";
import { COMPRESS_MIN_BYTES, createRpcAdapter } from "./rpc-adapter.ts";
import { createSessionHub, type SessionHub } from "./session-hub.ts";
import { createSessionOpener } from "./session-opener.ts";
import { createStreamHandlers } from "./stream-handlers.ts";
import { createUnaryHandlers } from "./unary-handlers.ts";
import type { GatewayConfig } from "../config/index.ts";
import type { Metrics } from "../metrics/index.ts";

export interface GatewayDeps {
  readonly log: MessageLog;
  readonly store: MessageStore;
  readonly accountStore: AccountStore;
  readonly accounts: Accounts;
  readonly signer: TokenSigner;
  readonly routing: RoutingTable;
  readonly push: PushLink;
  /** Where pushes addressed to this gateway arrive. */
  readonly receive: (gatewayId: GatewayId, sink: DeliverySink) => () => void;
  readonly presence: PresenceService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Extra HTTP routes (health, metrics, static web client). Return false to 404. */
  readonly fallback?: (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => boolean;
}

/** The device-facing edge: gRPC, gRPC-Web and Connect on one port. */
export interface Gateway {
  readonly hub: SessionHub;
  listen(): Promise<AddressInfo>;
  /** Serves until the signal aborts, then drains (DESIGN §6) and closes. */
  run(signal: AbortSignal): Promise<void>;
}

export function createGateway(cfg: GatewayConfig, deps: GatewayDeps): Gateway {
  const logger = deps.logger.child({ component: "gateway", gatewayId: cfg.gatewayId });
  const gatewayId = cfg.gatewayId as GatewayId;
  const hub = createSessionHub();
  deps.metrics?.gauge("chat_open_streams", "device streams open on this gateway", () => hub.size);
  deps.metrics?.gauge("chat_outbound_queued_events", "events waiting in device outbound queues", () =>
    hub.all().reduce((n, s) => n + s.queued, 0),
  );
  const views = createConversationViews({ accounts: deps.accountStore, presence: deps.presence });
  const commands = createCommands(
    { maxBodyBytes: cfg.maxBodyBytes },
    { ...deps, logger, limiter: createRateLimiter({ ratePerSec: cfg.sendRatePerSec, burst: cfg.sendBurst }, deps) },
  );
  const opener = createSessionOpener(
    {
      gatewayId,
      queueLimit: cfg.outboundQueueLimit,
      routeTtlMs: cfg.routeTtlMs,
      heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      recentWindow: cfg.recentWindow,
      maxConnections: cfg.maxConnections,
      catchUpConcurrency: cfg.catchUpConcurrency,
    },
    { ...deps, hub, views, logger },
  );
  const streamDeps = {
    ...deps,
    opener,
    commands,
    logger,
    idleTimeoutMs: cfg.idleTimeoutMs,
    heartbeatIntervalMs: cfg.heartbeatIntervalMs,
    rateLimitRetryMs: Math.ceil(1000 / cfg.sendRatePerSec),
  };
  const streams = createStreamHandlers(streamDeps);
  const unary = createUnaryHandlers({ ...streamDeps, hub, store: deps.store, accounts: deps.accountStore, views });
  const auth = createAuthHandlers(deps);

  const chat = guardService({ ...unary, ...streams }, logger);
  const readMaxBytes = Math.max(64 * 1024, cfg.maxBodyBytes * 4 + 16 * 1024);
  const routes = (router: ConnectRouter) => {
    router.service(ChatService, chat);
    router.service(AuthService, guardService(auth, logger));
  };
  const leanPaths =
    cfg.streamPath === "lean"
      ? [
          createGrpcStreamPath({
            method: ChatService.method.connect,
            // Unguarded: the path maps errors itself, one generator less per stream.
            impl: streams.connect,
            toWireError: (err) => toConnectError(err, logger),
            readMaxBytes,
            compressMinBytes: COMPRESS_MIN_BYTES,
          }),
        ]
      : [];
  const listener = createDualProtocolListener(
    createRpcAdapter({
      routes,
      logger,
      readMaxBytes,
      fallback: (req, res) => {
        if (deps.fallback?.(req as never, res as never)) return;
        const r = res as import("node:http").ServerResponse;
        r.writeHead(404, { "content-type": "text/plain" });
        r.end("not found\n");
      },
    }),
    { pingIntervalMs: cfg.heartbeatIntervalMs, pingTimeoutMs: cfg.idleTimeoutMs },
    leanPaths,
  );

  return {
    hub,
    async listen() {
      const addr = await listener.listen(cfg.port, cfg.host);
      logger.info({ host: addr.address, port: addr.port }, "gateway listening");
      return addr;
    },
    async run(signal) {
      const detach = deps.receive(gatewayId, hub.sink);
      const refresh = setInterval(() => {
        const routes = hub.all().map((s) => ({
          deviceId: s.identity.deviceId,
          userId: s.identity.userId,
          gatewayId,
          sessionId: s.id,
        }));
        // One batched TTL refresh per interval for every device held here. A
        // restored route means pushes to that device may have gone nowhere
        // (routing data lost): its session re-sends what it may have missed.
        if (routes.length > 0) {
          deps.routing
            .refresh(routes, cfg.routeTtlMs)
            .then(async (restored) => {
              for (const r of restored) {
                const session = hub.get(r.deviceId);
                if (session?.id === r.sessionId) await opener.resync(session);
              }
            })
            .catch((err) => logger.warn({ err }, "route refresh failed"));
        }
      }, Math.max(1000, Math.floor(cfg.routeTtlMs / 3)));
      const presenceStop = new AbortController();
      const presenceRun = deps.presence.run(presenceStop.signal);
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await drain();
      clearInterval(refresh);
      presenceStop.abort();
      await presenceRun.catch(() => undefined);
      detach();
    },
  };

  async function drain(): Promise<void> {
    opener.stopAccepting();
    const closing = listener.close();
    const sessions = hub.all();
    logger.info({ sessions: sessions.length }, "draining");
    for (const s of sessions) {
      // Jittered delay so a fleet of clients does not reconnect in one burst.
      const retryAfterMs = Math.floor(Math.random() * cfg.reconnectDelayMs);
      s.close({ code: Code.Unavailable, reason: "SHUTTING_DOWN", message: "gateway is shutting down; reconnect", retryAfterMs });
    }
    const deadline = new Promise<void>((r) => setTimeout(r, cfg.drainTimeoutMs));
    // Every session is closed now; a moment for their Reconnect events and trailers to leave.
    await Promise.race([new Promise((r) => setTimeout(r, 50)), deadline]);
    listener.destroyAll();
    await Promise.race([closing, deadline]);
  }
}
