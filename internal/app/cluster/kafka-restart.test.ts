import { expect, test } from "bun:test";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { describeWithBackends } from "../../testkit/index.ts";
import type { FleetUser } from "./cluster-fleet.ts";
import { expectFleetConsistent, startTraffic, triangleFleet, useFaultCluster, waitUntil } from "./fault-helpers.ts";
import { directApi } from "./fleet-verdict.ts";

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
  const suite = useFaultCluster(
    backends,
    // Few quick retries: an append gives up (and the client hears "unavailable") well within the outage.
    { gateways: 2, workers: 2, logParams: { retries: "2" } },
    { beforeDestroy: ensureKafkaUp },
  );

  test("failures reach clients as retryable, the outbox keeps messages pending, and nothing acknowledged as sent is lost", async () => {
    const fleet = await suite.openFleet(triangleFleet());
    const [alice] = fleet.users as [FleetUser];
    const [alice0, bob0] = fleet.named("alice#0", "bob#0");
    const [abId] = fleet.conversations.map((c) => c.conversationId) as [string];
    const gateway = suite.cluster().gateways[0]!;
    const rawId = crypto.randomUUID();
    const rawSend = () => directApi(gateway.url, alice.token).sendMessage({ conversationId: abId, clientMsgId: rawId, text: "raw-retried" });

    const traffic = startTraffic(fleet, { intervalMs: 20, max: 600, prefix: "k" });
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
    expect(await traffic.stop()).toBeGreaterThan(50);
    await expectFleetConsistent(fleet, gateway.url, { settleMs: 40_000, everySendAcked: true });
  }, 60_000);
});
