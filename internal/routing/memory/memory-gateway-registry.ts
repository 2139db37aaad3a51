import { BackendUnavailableError } from "../../domain/index.ts";
import type { Clock, GatewayId } from "../../domain/index.ts";
import type { GatewayRegistry } from "../gateway-registry.ts";

interface Announcement {
  readonly pushAddress: string;
  readonly expiresAtMs: number;
}

/**
 * The embedded gateway registry: a map with TTLs on the injected clock, for
 * setups whose gateways and workers share one process (and for tests of the
 * code above the port). Passes the same conformance suite as Redis.
 *
 * An expired entry is dropped when it is next looked up or re-announced;
 * gateways are few, so no sweep is needed to bound the map.
 */
export function createMemoryGatewayRegistry(deps: { clock: Clock }): GatewayRegistry {
  const { clock } = deps;
  const entries = new Map<GatewayId, Announcement>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new BackendUnavailableError("routing", "memory gateway registry is closed");
  }

  return {
    async announce(gatewayId, pushAddress, ttlMs) {
      ensureOpen();
      entries.set(gatewayId, { pushAddress, expiresAtMs: clock.nowMs() + ttlMs });
    },

    async lookup(gatewayId) {
      ensureOpen();
      const entry = entries.get(gatewayId);
      if (entry === undefined) return undefined;
      if (clock.nowMs() < entry.expiresAtMs) return entry.pushAddress;
      entries.delete(gatewayId);
      return undefined;
    },

    async withdraw(gatewayId) {
      ensureOpen();
      entries.delete(gatewayId);
    },

    async close() {
      closed = true;
      entries.clear();
    },
  };
}
