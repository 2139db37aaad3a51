import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { BackendUnavailableError, asGatewayId } from "../domain/index.ts";
import type { GatewayId } from "../domain/index.ts";
import type { GatewayRegistry } from "./gateway-registry.ts";

/**
 * What an adapter's test hands to {@link describeGatewayRegistry}.
 *
 * `advance` moves the adapter's notion of time forward: a manual clock for
 * the embedded adapter, a real sleep for Redis, whose TTLs run on the server.
 */
export interface GatewayRegistryFixture {
  readonly registry: GatewayRegistry;
  advance(ms: number): Promise<void>;
  /** Releases what `make` created (closing the registry is the suite's business in one case). */
  dispose(): Promise<void>;
}

/** Same margins as the routing suite: short for sleeping fixtures, wide against their jitter. */
const TTL_MS = 300;
const WITHIN_MS = 200;
const PAST_MS = 450;

/**
 * The gateway-registry contract (internal/routing/gateway-registry.ts), run
 * by every adapter's test file. Gateway ids are random per case, so a shared
 * backend needs no cleanup between cases.
 */
export function describeGatewayRegistry(name: string, make: () => Promise<GatewayRegistryFixture>): void {
  describe(`GatewayRegistry conformance: ${name}`, () => {
    let fx: GatewayRegistryFixture;
    let gateway: (label: string) => GatewayId;
    beforeEach(async () => {
      fx = await make();
      const suffix = crypto.randomUUID().slice(0, 8);
      gateway = (label) => asGatewayId(`${label}-${suffix}`);
    });
    afterEach(async () => {
      await fx.dispose();
    });

    test("lookup of a gateway that never announced answers undefined", async () => {
      expect(await fx.registry.lookup(gateway("gw-1"))).toBeUndefined();
    });

    test("announce publishes the address that lookup answers, per gateway", async () => {
      const [gw1, gw2] = [gateway("gw-1"), gateway("gw-2")];
      await fx.registry.announce(gw1, "127.0.0.1:7001", TTL_MS);
      await fx.registry.announce(gw2, "127.0.0.1:7002", TTL_MS);
      expect(await fx.registry.lookup(gw1)).toBe("127.0.0.1:7001");
      expect(await fx.registry.lookup(gw2)).toBe("127.0.0.1:7002");
    });

    test("a re-announce replaces the address", async () => {
      const gw = gateway("gw-1");
      await fx.registry.announce(gw, "127.0.0.1:7001", TTL_MS);
      await fx.registry.announce(gw, "127.0.0.1:7009", TTL_MS);
      expect(await fx.registry.lookup(gw)).toBe("127.0.0.1:7009");
    });

    test("an entry expires ttlMs after its announce", async () => {
      const gw = gateway("gw-1");
      await fx.registry.announce(gw, "127.0.0.1:7001", TTL_MS);
      await fx.advance(PAST_MS);
      expect(await fx.registry.lookup(gw)).toBeUndefined();
    });

    test("a re-announce within the TTL keeps the entry alive past the first TTL", async () => {
      const gw = gateway("gw-1");
      await fx.registry.announce(gw, "127.0.0.1:7001", TTL_MS);
      await fx.advance(WITHIN_MS);
      await fx.registry.announce(gw, "127.0.0.1:7001", TTL_MS);
      await fx.advance(WITHIN_MS);
      // Past the first announce's TTL, inside the second's.
      expect(await fx.registry.lookup(gw)).toBe("127.0.0.1:7001");
      await fx.advance(PAST_MS);
      expect(await fx.registry.lookup(gw)).toBeUndefined();
    });

    test("a gateway announcing again after its entry expired is found again", async () => {
      const gw = gateway("gw-1");
      await fx.registry.announce(gw, "127.0.0.1:7001", TTL_MS);
      await fx.advance(PAST_MS);
      await fx.registry.announce(gw, "127.0.0.1:7001", TTL_MS);
      expect(await fx.registry.lookup(gw)).toBe("127.0.0.1:7001");
    });

    test("withdraw removes the entry at once and leaves other gateways", async () => {
      const [gone, staying] = [gateway("gw-1"), gateway("gw-2")];
      await fx.registry.announce(gone, "127.0.0.1:7001", TTL_MS);
      await fx.registry.announce(staying, "127.0.0.1:7002", TTL_MS);
      await fx.registry.withdraw(gone);
      expect(await fx.registry.lookup(gone)).toBeUndefined();
      expect(await fx.registry.lookup(staying)).toBe("127.0.0.1:7002");
    });

    test.each([
      ["a gateway that never announced", async (_r: GatewayRegistry, _gw: GatewayId) => {}],
      ["a gateway already withdrawn", async (r: GatewayRegistry, gw: GatewayId) => {
        await r.announce(gw, "127.0.0.1:7001", TTL_MS);
        await r.withdraw(gw);
      }],
    ])("withdraw of %s is harmless", async (_label, arrange) => {
      const gw = gateway("gw-1");
      await arrange(fx.registry, gw);
      await fx.registry.withdraw(gw);
      expect(await fx.registry.lookup(gw)).toBeUndefined();
    });

    test("calls after close throw BackendUnavailableError", async () => {
      await fx.registry.close();
      const gw = gateway("gw-1");
      const calls: Array<() => Promise<unknown>> = [
        () => fx.registry.announce(gw, "127.0.0.1:7001", TTL_MS),
        () => fx.registry.lookup(gw),
        () => fx.registry.withdraw(gw),
      ];
      for (const call of calls) await expect(call()).rejects.toBeInstanceOf(BackendUnavailableError);
    });
  });
}
