export { createMemoryRoutingTable } from "./memory-routing.ts";
export { createMemoryGatewayRegistry } from "./memory-gateway-registry.ts";
