import { expect, test } from "bun:test";
import { describeWithBackends } from "../../testkit/index.ts";
import type { ClusterFleet, FleetDevice } from "./cluster-fleet.ts";
import { expectDeliveredLive, expectFleetConsistent, routedGateways, startTraffic, useFaultCluster, waitUntil } from "./fault-helpers.ts";
import { settleFleet } from "./fleet-verdict.ts";
import type { ClusterProcess } from "./test-cluster.ts";

/**
 * Each device reaches the gateways through its own TCP proxy, which plays the
 * load balancer: when a gateway dies it sends the device's new connections
 * to the other one.
 */
describeWithBackends("gateway killed with SIGKILL", ["kafka", "cassandra", "redis"], (backends) => {
  const suite = useFaultCluster(backends, { gateways: 2, workers: 2 });

  /** Points the devices behind `from` at `to`; with `cut`, also resets their live connections. */
  function moveDevices(fleet: ClusterFleet, from: ClusterProcess, to: ClusterProcess, cut: boolean): FleetDevice[] {
    const moved = fleet.devices.filter((d) => d.proxy.target.port === from.port);
    for (const d of moved) {
      d.proxy.setTarget({ host: "127.0.0.1", port: to.port });
      if (cut) {
        d.proxy.setMode("down");
        d.proxy.setMode("pass");
      }
    }
    return moved;
  }

  const routedTo = async (devices: readonly FleetDevice[], gateway: ClusterProcess) => {
    const routes = await routedGateways(suite.cluster(), devices);
    return devices.every((d) => routes.get(d.deviceId) === gateway.name);
  };

  test("its devices reconnect through the load balancer to the other gateway and catch up; the restarted gateway (same id) leaves their routes alone", async () => {
    const [g1, g2] = suite.cluster().gateways as [ClusterProcess, ClusterProcess];
    const fleet = await suite.openFleet({
      devices: [
        { user: "alice", gateway: 0, mode: "bidi" },
        { user: "alice", gateway: 1, mode: "subscribe" },
        { user: "bob", gateway: 0, mode: "subscribe" },
        { user: "bob", gateway: 1, mode: "bidi" },
        { user: "carol", gateway: 0, mode: "bidi" },
      ],
      conversations: [
        ["alice", "bob"],
        ["bob", "carol"],
        ["carol", "alice"],
      ],
    });
    const [abId, bcId, caId] = fleet.conversations.map((c) => c.conversationId) as [string, string, string];
    const [alice0, alice1, bob0, bob1, carol0] = fleet.named("alice#0", "alice#1", "bob#0", "bob#1", "carol#0");

    const traffic = startTraffic(fleet, { intervalMs: 10, max: 800, prefix: "g" });
    await Bun.sleep(1_500);
    g1.kill("SIGKILL");
    await g1.exited;
    // Its sockets closed with the process; the devices' next connections go to g2.
    const moved = moveDevices(fleet, g1, g2, false);
    expect(moved.map((d) => d.name).sort()).toEqual([alice0.name, bob0.name, carol0.name].sort());
    await Bun.sleep(2_000);
    expect(await traffic.stop()).toBeGreaterThan(100);
    await settleFleet(fleet, () => g2.url, 30_000);
    expect(await routedTo(moved, g2)).toBe(true);

    // The killed gateway comes back under the same GATEWAY_ID (and port): it must not
    // erase the routes its former devices registered on g2.
    await g1.restart();
    await expectDeliveredLive(fleet, alice1, bob0, abId, "after-restart-1", 10_000);
    await expectDeliveredLive(fleet, bob1, carol0, bcId, "after-restart-2", 10_000);
    expect(await routedTo(moved, g2)).toBe(true);

    // And a device sent back to the restarted gateway gets live pushes there
    // (the workers find its new push address in the registry).
    carol0.proxy.setTarget({ host: "127.0.0.1", port: g1.port });
    carol0.proxy.setMode("down");
    carol0.proxy.setMode("pass");
    await waitUntil(async () => carol0.client.connectionState() === "live" && (await routedTo([carol0], g1)), 15_000, "carol on the restarted gateway");
    await expectDeliveredLive(fleet, alice1, carol0, caId, "on-restarted-gateway", 10_000);
    await expectFleetConsistent(fleet, g2.url);
  }, 60_000);

  test("a frozen gateway's late route cleanup, after its devices moved, never erases their new routes", async () => {
    const g2 = suite.cluster().gateways[1]!;
    // Debug logs say when the frozen gateway has run each session's cleanup.
    const g3 = await suite.cluster().addGateway({ LOG_LEVEL: "debug" });
    const fleet = await suite.openFleet(
      {
        devices: [
          { user: "dave", gateway: 1, mode: "bidi" },
          { user: "dave", gateway: 0, mode: "subscribe" },
          { user: "erin", gateway: 1, mode: "subscribe" },
          { user: "erin", gateway: 0, mode: "bidi" },
        ],
        conversations: [["dave", "erin"]],
      },
      [g2, g3],
    );
    const conversationId = fleet.conversations[0]!.conversationId;
    const [dave0, dave1, erin0, erin1] = fleet.named("dave#0", "dave#1", "erin#0", "erin#1");

    const traffic = startTraffic(fleet, { intervalMs: 10, max: 800, prefix: "f" });
    await Bun.sleep(1_000);
    // SIGSTOP: the process keeps its sockets and its sessions, and runs its cleanup only on SIGCONT.
    g3.kill("SIGSTOP");
    const moved = moveDevices(fleet, g3, g2, true);
    expect(moved.map((d) => d.name).sort()).toEqual([dave0.name, erin0.name].sort());
    try {
      await waitUntil(
        async () => moved.every((d) => d.client.connectionState() === "live") && (await routedTo(moved, g2)),
        20_000,
        "the moved devices live on g2",
      );
    } finally {
      g3.kill("SIGCONT");
    }
    const cleanedUp = (d: FleetDevice) =>
      g3.output().split("\n").some((line) => line.includes('"session closed"') && line.includes(d.deviceId));
    await waitUntil(() => moved.every(cleanedUp), 15_000, "the resumed gateway to close its stale sessions");
    expect(await routedTo(moved, g2)).toBe(true);
    await expectDeliveredLive(fleet, dave1, erin0, conversationId, "after-late-cleanup-1", 10_000);
    await expectDeliveredLive(fleet, erin1, dave0, conversationId, "after-late-cleanup-2", 10_000);

    expect(await traffic.stop()).toBeGreaterThan(50);
    await expectFleetConsistent(fleet, g2.url);
  }, 60_000);
});
