export { createGrpcPushLink } from "./grpc-push-link.ts";
export type { GrpcPushLink } from "./grpc-push-link.ts";
export { startGrpcPushServer } from "./grpc-push-server.ts";
export type { GrpcPushServerConfig, RunningPushServer } from "./grpc-push-server.ts";
export { DEFAULT_GRPC_PUSH_LINK_CONFIG, parseGrpcPushLinkUrl } from "./grpc-push-config.ts";
export type { GrpcPushLinkConfig } from "./grpc-push-config.ts";
export { decodeDeliveries, encodeDeliveries } from "./push-codec.ts";
