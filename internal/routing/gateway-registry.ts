import type { GatewayId } from "../domain/index.ts";

/**
 * Which gateways are alive and where their internal push endpoint is
 * (distributed mode: the worker opens one long-lived gRPC stream per gateway).
 * Redis in production; in-process for single-process setups.
 *
 * Contract (checked by describeGatewayRegistry):
 * - `announce` (re)publishes the address with a TTL; a gateway re-announces
 *   well within it, so a dead gateway disappears by expiry.
 * - `lookup` answers the live address or undefined.
 * - `withdraw` removes the entry at once (clean shutdown).
 * - `close` releases the adapter's resources; later calls throw
 *   BackendUnavailableError.
 */
export interface GatewayRegistry {
  announce(gatewayId: GatewayId, pushAddress: string, ttlMs: number): Promise<void>;
  lookup(gatewayId: GatewayId): Promise<string | undefined>;
  withdraw(gatewayId: GatewayId): Promise<void>;
  close(): Promise<void>;
}
