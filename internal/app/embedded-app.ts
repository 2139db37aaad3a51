import { join } from "node:path";
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import pino, { type Logger } from "pino";
import { createAccounts, createTokenSigner, loadOrCreateDevSecret } from "../auth/index.ts";
import type { Config } from "../config/index.ts";
import { createDeliveryWorker } from "../delivery/index.ts";
import { asGatewayId, systemClock, type Clock } from "../domain/index.ts";
import { createGateway, type Gateway } from "../gateway/index.ts";
import { createEmbeddedLog } from "../log/embedded/index.ts";
import { createMemoryPresenceStore } from "../presence/memory/index.ts";
import { createPresenceService } from "../presence/index.ts";
import { createLocalPushHub } from "../push/memory/index.ts";
import { createMemoryRoutingTable } from "../routing/memory/index.ts";
import { createSqliteStore } from "../store/sqlite/index.ts";

export interface App {
  readonly gateway: Gateway;
  listen(): Promise<AddressInfo>;
  /**
   * Runs every role until the signal aborts, then shuts down in order:
   * gateway drains (clients told to reconnect) -> worker finishes its
   * in-flight batch and commits -> adapters close in reverse order.
   */
  run(signal: AbortSignal): Promise<void>;
}

export interface AppDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/**
 * The embedded default (DESIGN §2): every role in one process, on the
 * in-process durable log (SQLite file), the SQLite store and in-memory routing
 * and presence. Same gateway and worker code as distributed mode.
 */
export function createEmbeddedApp(config: Config, deps: AppDeps = {}): App {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? pino({ level: config.logLevel });
  mkdirSync(config.dataDir, { recursive: true });

  const store = createSqliteStore({ path: join(config.dataDir, "store.db") });
  const log = createEmbeddedLog({ path: join(config.dataDir, "log.db"), partitionCount: config.logPartitions }, { logger });
  const routing = createMemoryRoutingTable({ clock });
  const presenceStore = createMemoryPresenceStore({ clock });
  const pushHub = createLocalPushHub();
  const signer = createTokenSigner(
    { secret: config.auth.secret ?? loadOrCreateDevSecret(config.dataDir), ttlMs: config.auth.tokenTtlMs },
    { clock },
  );
  const accounts = createAccounts({ store, signer, clock, newId: () => crypto.randomUUID().replaceAll("-", "") });
  const presence = createPresenceService(
    { gatewayId: asGatewayId(config.gateway.gatewayId), ...config.presence },
    { store: presenceStore, clock, logger: logger.child({ component: "presence" }) },
  );
  const gateway = createGateway(config.gateway, {
    log,
    store,
    accountStore: store,
    accounts,
    signer,
    routing,
    push: pushHub,
    receive: (gatewayId, sink) => pushHub.attach(gatewayId, sink),
    presence,
    clock,
    logger,
    fallback: (req, res) => {
      if (req.url === "/healthz" || req.url === "/readyz") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok\n");
        return true;
      }
      return false;
    },
  });
  const worker = createDeliveryWorker(
    { groupId: "workers", memberId: `${config.gateway.gatewayId}-worker`, generation: 0 },
    { log, store, routing, push: pushHub, logger },
  );

  return {
    gateway,
    listen: () => gateway.listen(),
    async run(signal) {
      const workerStop = new AbortController();
      const workerRun = worker.run(workerStop.signal);
      await gateway.run(signal);
      workerStop.abort();
      await workerRun.catch((err) => logger.error({ err }, "worker stopped with an error"));
      await log.close();
      await presenceStore.close();
      await routing.close();
      await store.close();
      logger.info("stopped");
    },
  };
}
