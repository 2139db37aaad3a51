import { describe, expect, test } from "bun:test";
import { asDeviceId, asGatewayId } from "../../domain/index.ts";
import { describePushLink } from "../push-link.conformance.ts";
import type { Delivery } from "../push-link.ts";
import { createLocalPushHub } from "./local-push-hub.ts";

const gwA = asGatewayId("gw-a");
const gwB = asGatewayId("gw-b");
const evict = (deviceId: string, sessionId: string): Delivery => ({
  deviceId: asDeviceId(deviceId),
  event: { type: "evict", sessionId },
});

function recorder() {
  const received: Delivery[][] = [];
  return { received, sink: (deliveries: readonly Delivery[]) => void received.push([...deliveries]) };
}

describe("local push hub", () => {
  test("delivers each gateway's pushes to its own sink, in push order", async () => {
    const hub = createLocalPushHub();
    const [a, b] = [recorder(), recorder()];
    hub.attach(gwA, a.sink);
    hub.attach(gwB, b.sink);
    const batches = [[evict("d1", "s1")], [evict("d2", "s2"), evict("d3", "s3")], [evict("d1", "s4")]];

    await Promise.all(batches.map((batch) => hub.push(gwA, batch)));
    await hub.push(gwB, [evict("d9", "s9")]);

    expect(a.received).toEqual(batches);
    expect(b.received).toEqual([[evict("d9", "s9")]]);
  });

  test.each([
    ["a gateway that never attached", () => {}],
    ["a gateway that detached", (detach: () => void) => detach()],
  ])("a push to %s is dropped without error", async (_label, act) => {
    const hub = createLocalPushHub();
    const other = recorder();
    const detach = hub.attach(gwB, other.sink);
    act(detach);
    await hub.push(gwA, [evict("d1", "s1")]);
    expect(other.received.flat().filter((d) => d.deviceId === asDeviceId("d1"))).toEqual([]);
  });

  test("a stale detach leaves the sink that replaced it attached", async () => {
    const hub = createLocalPushHub();
    const [old, current] = [recorder(), recorder()];
    const detachOld = hub.attach(gwA, old.sink);
    hub.attach(gwA, current.sink);
    detachOld();

    await hub.push(gwA, [evict("d1", "s1")]);
    expect(old.received).toEqual([]);
    expect(current.received).toEqual([[evict("d1", "s1")]]);
  });

  test("the sink gets its own copy of the batch", async () => {
    const hub = createLocalPushHub();
    let received: readonly Delivery[] = [];
    hub.attach(gwA, (deliveries) => void (received = deliveries));
    const batch = [evict("d1", "s1")];
    await hub.push(gwA, batch);
    batch.push(evict("d2", "s2"));
    expect(received).toEqual([evict("d1", "s1")]);
  });
});

describePushLink("local push hub", async () => {
  const hub = createLocalPushHub();
  return {
    link: hub,
    startGateway: async (gatewayId, sink) => {
      const detach = hub.attach(gatewayId, sink);
      return async () => detach();
    },
    dispose: async () => {},
  };
});
