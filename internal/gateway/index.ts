export { createGateway } from "./gateway.ts";
export type { Gateway, GatewayDeps } from "./gateway.ts";
export { connectError, toConnectError } from "./error-mapping.ts";
