import { create, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition } from "@grpc/grpc-js";
import { GatewayPushService, PushResponseSchema } from "../../../gen/chat/internal/v1/push_pb.ts";
import type { Delivery } from "../push-link.ts";
import { decodeDeliveries, encodeDeliveries } from "./push-codec.ts";

/** The (empty) answer the gateway sends when a push stream ends. */
export type PushAck = Record<string, never>;

/**
 * chat.internal.v1.GatewayPushService/Push as a grpc-js method definition.
 * The (de)serializers speak domain batches, so neither end touches wire types
 * and no .proto file is loaded at runtime: protobuf-es does the encoding.
 */
export const pushMethod: MethodDefinition<readonly Delivery[], PushAck> = {
  path: `/${GatewayPushService.typeName}/${GatewayPushService.method.push.name}`,
  originalName: GatewayPushService.method.push.localName,
  requestStream: true,
  responseStream: false,
  requestSerialize: (deliveries) => asBuffer(encodeDeliveries(deliveries)),
  requestDeserialize: (bytes) => decodeDeliveries(bytes),
  responseSerialize: () => asBuffer(toBinary(PushResponseSchema, create(PushResponseSchema))),
  responseDeserialize: () => ({}),
};

/** The service definition for `grpc.Server.addService`. */
export const pushServiceDefinition = { push: pushMethod };

/** A Buffer view of the encoded bytes: grpc-js wants a Buffer, and a copy would be waste. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
