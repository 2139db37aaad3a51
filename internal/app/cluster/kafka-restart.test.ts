import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { describeWithBackends } from "../../testkit/index.ts";
import { createClusterFleet, type ClusterFleet, type FleetUser } from "./cluster-fleet.ts";
import { waitUntil } from "./fault-helpers.ts";
import { directApi, settleFleet, verifyFleet, violationsOf } from "./fleet-verdict.ts";
import { startTestCluster, type TestCluster } from "./test-cluster.ts";

const ROOT = join(import.meta.dir, "../../..");

/** Runs `scripts/infra/services.sh <args>`; throws with its output when it fails. */
async function services(...args: string[]): Promise<void> {
  const proc = Bun.spawn(["bash", join(ROOT, "scripts/infra/services.sh"), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`services.sh ${args.join(" ")} exited with ${code}:\n${out}\n${err}`);
}

/** The broker is shared by everything on this machine: it must be back whatever happens. */
async function ensureKafkaUp(): Promise<void> {
  await services("start", "kafka");
  await services("wait", "kafka");
}

describeWithBackends("Kafka broker restarted while clients send", ["kafka", "cassandra", "redis"], (backends) => {
  let cluster: TestCluster;
  let fleet: ClusterFleet | undefined;
  beforeAll(async () => {
    cluster = await startTestCluster(backends, {
      gateways: 2,
      workers: 2,
      // Few quick retries: an append gives up (and the client hears "unavailable") well within the outage.
      logParams: { retries: "2" },
    });
  }, 90_000);
  afterAll(async () => {
    await ensureKafkaUp();
    await fleet?.close();
    await cluster?.destroy();
  }, 60_000);

  test("failures reach clients as retryable, the outbox keeps messages pending, and nothing acknowledged as sent is lost", async () => {
    fleet = await createClusterFleet(cluster.gateways, {
      devices: [
        { user: "alice", gateway: 0, mode: "bidi" },
        { user: "alice", gateway: 1, mode: "subscribe" },
        { user: "bob", gateway: 1, mode: "bidi" },
        { user: "bob", gateway: 0, mode: "subscribe" },
        { user: "carol", gateway: 0, mode: "bidi" },
      ],
      conversations: [
        ["alice", "bob"],
        ["bob", "carol"],
        ["carol", "alice"],
      ],
    });
    const [alice] = fleet.users as [FleetUser];
    const [alice0, bob0] = fleet.named("alice#0", "bob#0");
    const [abId] = fleet.conversations.map((c) => c.conversationId) as [string];
    const gateway = cluster.gateways[0]!;
    const rawId = crypto.randomUUID();
    const rawSend = () => directApi(gateway.url, alice.token).sendMessage({ conversationId: abId, clientMsgId: rawId, text: "raw-retried" });

    const stop = new AbortController();
    const traffic = fleet.traffic(stop.signal, { intervalMs: 20, max: 600, prefix: "k" });
    await Bun.sleep(1_000);
    const outage: { raw?: unknown; pendingIds: string[] } = { pendingIds: [] };
    try {
      await services("stop", "kafka");
      // Once a unary send hears "unavailable", every gateway's appends fail: sends now stay pending.
      for (let attempt = 0; attempt < 20 && outage.raw === undefined; attempt++) {
        outage.raw = await rawSend().then(
          () => undefined,
          (err: unknown) => err,
        );
      }
      for (const device of [alice0, bob0]) outage.pendingIds.push(await fleet.send(device, abId, `during-outage-${device.name}`));
      await Bun.sleep(1_000);
      for (const [i, device] of [alice0, bob0].entries()) {
        expect(device.client.messageState(abId, outage.pendingIds[i]!)).toBe("pending");
      }
    } finally {
      await ensureKafkaUp();
    }
    expect(outage.raw).toBeInstanceOf(ConnectError);
    expect(ConnectError.from(outage.raw).code).toBe(Code.Unavailable);

    // The client retries the same id until the log takes it.
    await waitUntil(() => rawSend().then(() => true, () => false), 30_000, "a raw send to be accepted after the restart");
    fleet.recordRawSend({ clientMsgId: rawId, conversationId: abId, deviceId: alice.directDeviceId });
    await Bun.sleep(1_000);
    stop.abort();
    expect(await traffic).toBeGreaterThan(50);

    await settleFleet(fleet, () => gateway.url, 40_000);
    const verdict = await verifyFleet(fleet, gateway.url);
    expect(violationsOf(verdict)).toEqual([]);
    expect(fleet.snapshot().sends.every((s) => s.sentAck)).toBe(true);
  }, 60_000);
});
