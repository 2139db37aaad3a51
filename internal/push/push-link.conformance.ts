import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { asDeviceId, asGatewayId, type GatewayId } from "../domain/index.ts";
import type { Delivery, DeliverySink, PushLink } from "./push-link.ts";

/**
 * What an adapter's test hands to {@link describePushLink}: the link under
 * test plus a way to bring gateways up and down on its receiving side (a sink
 * attached in-process, or a push server announced in a registry).
 */
export interface PushLinkFixture {
  readonly link: PushLink;
  /** Makes `gatewayId` reachable with `sink` as its receiver; returns its stop (the gateway going away). */
  startGateway(gatewayId: GatewayId, sink: DeliverySink): Promise<() => Promise<void>>;
  /** Releases what `make` created; called after every case. */
  dispose(): Promise<void>;
}

/** Upper bound of every wait: far above any healthy delivery, so no case depends on timing. */
const WAIT_MS = 10_000;

/** Polls until `done()` holds, bounded in time; fails the case with `what` otherwise. */
export async function eventually(done: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** A gateway's receiving end: everything it got, flattened, since links may coalesce batches. */
export function recorder() {
  const received: Delivery[] = [];
  return { received, sink: (deliveries: readonly Delivery[]) => void received.push(...deliveries) };
}

const evict = (deviceId: string, sessionId: string): Delivery => ({
  deviceId: asDeviceId(deviceId),
  event: { type: "evict", sessionId },
});

/** `count` batches of 1-3 deliveries whose session ids number them in push order. */
const numberedBatches = (count: number, tag: string): Delivery[][] =>
  Array.from({ length: count }, (_, i) =>
    Array.from({ length: 1 + (i % 3) }, (_, j) => evict(`${tag}-d${j}`, `${tag}-${i}.${j}`)),
  );

/**
 * The push contract (internal/push/push-link.ts): best effort, ordered per
 * target gateway, silent drop for a gateway that is not there. Gateway ids
 * are random per case.
 */
export function describePushLink(name: string, make: () => Promise<PushLinkFixture>): void {
  describe(`PushLink conformance: ${name}`, () => {
    let fx: PushLinkFixture;
    let gw: (label: string) => GatewayId;
    beforeEach(async () => {
      fx = await make();
      const run = crypto.randomUUID().slice(0, 8);
      gw = (label) => asGatewayId(`gw-${label}-${run}`);
    });
    afterEach(async () => {
      await fx.dispose();
    });

    test("delivers concurrent pushes to one gateway in push order", async () => {
      const a = recorder();
      await fx.startGateway(gw("a"), a.sink);
      const batches = numberedBatches(300, "a");

      await Promise.all(batches.map((batch) => fx.link.push(gw("a"), batch)));
      await eventually(() => a.received.length >= batches.flat().length, "every delivery");
      expect(a.received).toEqual(batches.flat());
    });

    test("delivers awaited pushes in order, each gateway only its own", async () => {
      const [a, b] = [recorder(), recorder()];
      await fx.startGateway(gw("a"), a.sink);
      await fx.startGateway(gw("b"), b.sink);
      const [toA, toB] = [numberedBatches(50, "a"), numberedBatches(50, "b")];

      for (let i = 0; i < toA.length; i++) {
        await fx.link.push(gw("a"), toA[i]!);
        await fx.link.push(gw("b"), toB[i]!);
      }
      await eventually(() => a.received.length >= toA.flat().length, "gateway a's deliveries");
      await eventually(() => b.received.length >= toB.flat().length, "gateway b's deliveries");
      expect(a.received).toEqual(toA.flat());
      expect(b.received).toEqual(toB.flat());
    });

    test.each([
      ["a gateway that never started", false],
      ["a gateway that stopped", true],
    ])("a push to %s resolves and reaches nobody", async (_label, startThenStop) => {
      const [gone, other] = [recorder(), recorder()];
      if (startThenStop) await (await fx.startGateway(gw("gone"), gone.sink))();
      await fx.startGateway(gw("other"), other.sink);

      await fx.link.push(gw("gone"), [evict("d1", "lost")]);
      // A marker behind it: once it arrives, a misrouted push would have too.
      await fx.link.push(gw("other"), [evict("d2", "marker")]);
      await eventually(() => other.received.length > 0, "the marker");
      expect(other.received).toEqual([evict("d2", "marker")]);
      expect(gone.received).toEqual([]);
    });

    test("the receiver is not affected by the caller reusing its array", async () => {
      const a = recorder();
      await fx.startGateway(gw("a"), a.sink);
      const batch = [evict("d1", "s1")];
      await fx.link.push(gw("a"), batch);
      batch.push(evict("d2", "s2"));
      await fx.link.push(gw("a"), [evict("d3", "s3")]);

      await eventually(() => a.received.length >= 2, "both pushes");
      expect(a.received).toEqual([evict("d1", "s1"), evict("d3", "s3")]);
    });

    test("a gateway that comes back gets pushes issued after its return", async () => {
      const [before, after] = [recorder(), recorder()];
      const stop = await fx.startGateway(gw("a"), before.sink);
      await fx.link.push(gw("a"), [evict("d1", "before")]);
      await eventually(() => before.received.length === 1, "the first push");
      await stop();
      await fx.startGateway(gw("a"), after.sink);

      // Pushes in between may be dropped (best effort), so retry, bounded.
      for (let i = 0; i < 1_000 && after.received.length === 0; i++) {
        await fx.link.push(gw("a"), [evict("d1", `after-${i}`)]);
        await Bun.sleep(10);
      }
      expect(after.received.length).toBeGreaterThan(0);
      expect(before.received).toEqual([evict("d1", "before")]);
      const numbers = after.received.map((d) => (d.event.type === "evict" ? Number(d.event.sessionId.slice(6)) : NaN));
      expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
    });
  });
}
