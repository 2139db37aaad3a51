export { createMemoryRoutingTable } from "./memory-routing.ts";
