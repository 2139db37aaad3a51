import { expect, test } from "bun:test";
import pino from "pino";
import { closeRedisClient, deleteKeysWithPrefix, openRedisClient, parseRedisUrl } from "../../routing/redis/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { routedGateways, useFaultCluster, waitUntil } from "./fault-helpers.ts";
import { directApi } from "./fleet-verdict.ts";

/*
 * Regression test for the distributed checker's finding (docs/reliability.md,
 * "Findings, distributed"): a message stored while its recipients' routes are
 * missing from Redis (a flush, a restart without persistence) is pushed to
 * no one, and a device whose stream stayed up never learns of it: it catches
 * up only on a reconnect, or when a later message of the same conversation
 * shows the gap. The last message of a conversation is thus withheld from
 * live devices indefinitely (invariant 3). Fixed: a route refresh that
 * restores a lapsed route makes the gateway resync that session.
 */

// Routes and the registry are rewritten every 5 s (a third of the TTL): the gap after a flush is that long.
const ttlMs = 15_000;
// Well past the rewrite: a working cluster delivers within a push.
const deliverWithinMs = 10_000;

describeWithBackends("a push lost while routes are missing", ["kafka", "cassandra", "redis"], (backends) => {
  const suite = useFaultCluster(backends, {
    gateways: 2,
    workers: 1,
    env: { ROUTE_TTL_MS: String(ttlMs), GATEWAY_REGISTRY_TTL_MS: String(ttlMs) },
  });

  test(
    "a message stored while the cluster's Redis keys were gone reaches the recipient's live devices, with no later traffic",
    async () => {
      const cluster = suite.cluster();
      const fleet = await suite.openFleet({
        devices: [
          { user: "alice", gateway: 0, mode: "bidi" },
          { user: "bob", gateway: 1, mode: "bidi" },
          { user: "bob", gateway: 0, mode: "subscribe" },
        ],
        conversations: [["alice", "bob"]],
      });
      const [alice0, bob0, bob1] = fleet.named("alice#0", "bob#0", "bob#1");
      const conversationId = fleet.conversations[0]!.conversationId;
      const holds = (text: string) => () => [bob0, bob1].every((d) => d.client.messages(conversationId).some((m) => m.text === text && m.seq !== undefined));
      const routed = async () => (await routedGateways(cluster, fleet.devices)).size === fleet.devices.length;

      await waitUntil(routed, 10_000, "every device to be routed");
      await fleet.send(alice0, conversationId, "before the flush");
      await bob0.client.waitFor(holds("before the flush"), deliverWithinMs, "the first message, pushed live");

      const redisConfig = parseRedisUrl(cluster.env.REDIS_URL!);
      const redis = openRedisClient(redisConfig, { logger: pino({ level: "silent" }), role: "test-flush" });
      try {
        expect(await deleteKeysWithPrefix(redis, redisConfig.keyPrefix!)).toBeGreaterThan(0);
      } finally {
        await closeRedisClient(redis);
      }
      // Sent and stored within the gap, before the gateways rewrite the routes.
      const gapId = await fleet.send(alice0, conversationId, "in the gap");
      const bob = fleet.users.find((u) => u.userId === bob0.userId)!;
      await waitUntil(
        async () => {
          const listed = await directApi(cluster.gateways[0]!.url, bob.token).listConversations({});
          return listed.conversations.some((c) => c.conversationId === conversationId && c.lastMessage?.clientMsgId === gapId);
        },
        10_000,
        "the message in the gap to be stored",
      );
      expect(await routed()).toBe(false);
      await waitUntil(routed, ttlMs, "the routes to be rewritten");
      expect([bob0, bob1].map((d) => d.client.connectionState())).toEqual(["live", "live"]);

      // Nothing else is sent in this conversation: only the cluster can bring the message.
      await bob0.client.waitFor(holds("in the gap"), deliverWithinMs, "the message stored in the gap on bob's live devices");
    },
    90_000,
  );
});
