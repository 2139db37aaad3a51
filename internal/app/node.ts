import type { AddressInfo } from "node:net";
import http from "node:http";
import pino, { type Logger } from "pino";
import { createAccounts, createTokenSigner, loadOrCreateDevSecret } from "../auth/index.ts";
import type { Config } from "../config/index.ts";
import { createDeliveryWorker } from "../delivery/index.ts";
import { asGatewayId, systemClock, type Clock } from "../domain/index.ts";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { createPresenceService } from "../presence/index.ts";
import { createWebHandler } from "../web/index.ts";
import { createGrpcPushLink, startGrpcPushServer, type RunningPushServer } from "../push/grpc/index.ts";
import type { PushLink } from "../push/index.ts";
import { createLocalPushHub } from "../push/memory/index.ts";
import { createMetrics, type Metrics } from "../metrics/index.ts";
import { openBackends, type Backends } from "./backends.ts";
import { createSplitPushLink } from "./split-push-link.ts";

export type Role = "gateway" | "worker";

/** One process running some roles (DESIGN §2): `cmd/server` all, `cmd/gateway` and `cmd/worker` one each. */
export interface App {
  /** Present when the process runs the gateway role. */
  readonly gateway: Gateway | undefined;
  readonly backends: Backends;
  /** Binds the public port (gateway) and the health port (worker-only processes). */
  listen(): Promise<AddressInfo | undefined>;
  /**
   * Runs every role until the signal aborts, then shuts down in order:
   * gateway drains (clients told to reconnect) -> worker finishes its
   * in-flight batch and commits -> push links and adapters close in reverse order.
   */
  run(signal: AbortSignal): Promise<void>;
}

export interface AppDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** One registry per process; tests running several apps in one process pass their own. */
  readonly metrics?: Metrics;
}

/**
 * Wires the roles onto the adapters the config names. Same gateway and worker
 * code for the embedded default and for distributed mode: only the backends
 * and the push path differ (in-process hub vs gRPC streams between processes).
 */
export async function createApp(config: Config, roles: readonly Role[], deps: AppDeps = {}): Promise<App> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? pino({ level: config.logLevel });
  const backends = await openBackends(config, { clock, logger });
  const metrics = deps.metrics ?? createMetrics();
  const { log, store, routing, registry } = backends;
  const gatewayId = roles.includes("gateway") ? asGatewayId(config.gateway.gatewayId) : undefined;

  const localHub = createLocalPushHub();
  const remote = backends.shared ? createGrpcPushLink({}, { registry, logger: logger.child({ component: "push-link" }) }) : undefined;
  const push: PushLink = remote ? createSplitPushLink(localHub, gatewayId, remote) : localHub;

  let gateway: Gateway | undefined;
  if (gatewayId) {
    const signer = createTokenSigner(
      { secret: config.auth.secret ?? loadOrCreateDevSecret(config.dataDir), ttlMs: config.auth.tokenTtlMs },
      { clock },
    );
    const web = createWebHandler({}, { logger: logger.child({ component: "web" }) });
    const presence = createPresenceService(
      { gatewayId, ...config.presence },
      { store: backends.presence, clock, logger: logger.child({ component: "presence" }) },
    );
    gateway = createGateway(config.gateway, {
      log,
      store,
      accountStore: store,
      accounts: createAccounts({ store, signer, clock, newId: () => crypto.randomUUID().replaceAll("-", "") }),
      signer,
      routing,
      push,
      receive: (id, sink) => localHub.attach(id, sink),
      presence,
      clock,
      logger,
      metrics,
      fallback: (req, res) => health(req, res, () => true, metrics) || web(req, res),
    });
  }
  const worker = roles.includes("worker")
    ? createDeliveryWorker(
        { groupId: config.worker.groupId, memberId: config.worker.memberId, generation: config.worker.generation },
        { log, store, routing, push, logger, metrics },
      )
    : undefined;

  let pushServer: RunningPushServer | undefined;
  let healthServer: http.Server | undefined;

  return {
    gateway,
    backends,
    async listen() {
      if (!gateway && config.worker.httpPort >= 0) {
        healthServer = http.createServer((req, res) => {
          if (!health(req, res, () => true, metrics)) res.writeHead(404).end();
        });
        await new Promise<void>((r) => healthServer!.listen(config.worker.httpPort, config.gateway.host, r));
        logger.info({ port: (healthServer.address() as AddressInfo).port }, "worker health endpoint listening");
      }
      if (!gateway) return undefined;
      if (backends.shared) {
        // Workers in other processes stream this gateway's deliveries here.
        const hub = gateway.hub;
        pushServer = await startGrpcPushServer(config.push, { sink: (d) => hub.sink(d), logger });
      }
      return gateway.listen();
    },
    async run(signal) {
      const announce = pushServer && gatewayId ? startAnnouncing(pushServer, gatewayId) : undefined;
      const workerStop = new AbortController();
      const workerRun = worker?.run(workerStop.signal);
      if (gateway) await gateway.run(signal);
      else await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener("abort", () => r(), { once: true })));
      workerStop.abort();
      await workerRun?.catch((err) => logger.error({ err }, "worker stopped with an error"));
      await announce?.stop();
      await pushServer?.close();
      await remote?.close();
      healthServer?.close();
      await backends.close();
      logger.info("stopped");
    },
  };

  function startAnnouncing(server: RunningPushServer, id: ReturnType<typeof asGatewayId>) {
    const address = `${config.push.advertiseHost}:${server.port}`;
    const ttl = config.push.registryTtlMs;
    const announce = () => registry.announce(id, address, ttl).catch((err) => logger.warn({ err }, "gateway announce failed"));
    void announce();
    const timer = setInterval(announce, Math.max(500, Math.floor(ttl / 3)));
    return {
      async stop() {
        clearInterval(timer);
        await registry.withdraw(id).catch(() => undefined);
      },
    };
  }
}

/** /healthz: the process is up; /readyz: it serves; /metrics: Prometheus text. False for other paths. */
function health(req: http.IncomingMessage, res: http.ServerResponse, ready: () => boolean, metrics: Metrics): boolean {
  if (req.url === "/metrics") {
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
    return true;
  }
  if (req.url === "/healthz" || req.url === "/readyz") {
    const ok = req.url === "/healthz" || ready();
    res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
    res.end(ok ? "ok\n" : "not ready\n");
    return true;
  }
  return false;
}
