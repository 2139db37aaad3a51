import type { ConversationId, DeviceId, GatewayId, UserId, Watermarks } from "../domain/index.ts";
import type { Delivery, DeliveryEvent, PushLink } from "../push/index.ts";
import type { RoutingTable } from "../routing/index.ts";
import type { Logger } from "pino";
import type { Metrics } from "../metrics/index.ts";

type Target = { readonly user: UserId; readonly device?: DeviceId };

/**
 * Collects the pushes of one log batch and sends them after the batch's store
 * writes: one routing lookup per batch, one push call per gateway, in record
 * order. Receipts of the same (conversation, user) collapse into the newest
 * value, since watermarks only grow.
 */
export interface PushBatch {
  toUsers(users: readonly UserId[], event: DeliveryEvent): void;
  toDevice(user: UserId, device: DeviceId, event: DeliveryEvent): void;
  receipt(conversationId: ConversationId, users: readonly UserId[], owner: UserId, watermarks: Watermarks): void;
  flush(): Promise<void>;
}

export function createPushBatch(deps: { routing: RoutingTable; push: PushLink; logger: Logger; metrics?: Metrics }): PushBatch {
  const items: { targets: Target[]; event: DeliveryEvent }[] = [];
  const receiptIndex = new Map<string, number>();

  return {
    toUsers(users, event) {
      items.push({ targets: users.map((user) => ({ user })), event });
    },
    toDevice(user, device, event) {
      items.push({ targets: [{ user, device }], event });
    },
    receipt(conversationId, users, owner, watermarks) {
      const event: DeliveryEvent = { type: "receipt", conversationId, userId: owner, watermarks };
      const key = `${conversationId}|${owner}`;
      const at = receiptIndex.get(key);
      if (at !== undefined) {
        items[at] = { targets: users.map((user) => ({ user })), event };
      } else {
        receiptIndex.set(key, items.length);
        items.push({ targets: users.map((user) => ({ user })), event });
      }
    },
    async flush() {
      if (items.length === 0) return;
      const users = new Set<UserId>();
      for (const it of items) for (const t of it.targets) users.add(t.user);
      let routes;
      try {
        routes = await deps.routing.routesOf([...users]);
      } catch (err) {
        // Pushing is best effort: devices catch up from their cursors on reconnect.
        deps.logger.warn({ err }, "routing lookup failed; skipping push");
        return;
      }
      const byUser = new Map<UserId, typeof routes>();
      for (const r of routes) {
        const list = byUser.get(r.userId);
        if (list) list.push(r);
        else byUser.set(r.userId, [r]);
      }
      const byGateway = new Map<GatewayId, Delivery[]>();
      for (const it of items) {
        for (const t of it.targets) {
          for (const r of byUser.get(t.user) ?? []) {
            if (t.device !== undefined && r.deviceId !== t.device) continue;
            const list = byGateway.get(r.gatewayId);
            const d: Delivery = { deviceId: r.deviceId, event: it.event };
            if (list) list.push(d);
            else byGateway.set(r.gatewayId, [d]);
          }
        }
      }
      if (deps.metrics) {
        const now = Date.now();
        for (const it of items) {
          if (it.event.type === "message") deps.metrics.deliveryLatencySeconds.observe((now - it.event.message.sentAtMs) / 1000);
        }
        for (const d of byGateway.values()) deps.metrics.pushedDeliveries.inc(d.length);
      }
      await Promise.all(
        [...byGateway].map(([gw, deliveries]) =>
          deps.push.push(gw, deliveries).catch((err) => deps.logger.warn({ err, gatewayId: gw }, "push failed")),
        ),
      );
    },
  };
}
