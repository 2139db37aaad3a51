export type { RoutingTable, RouteEntry } from "./routing-table.ts";
export type { GatewayRegistry } from "./gateway-registry.ts";
