export type { RoutingTable, RouteEntry } from "./routing-table.ts";
