import type { ConversationId, DeviceId, GatewayId, Seq, StoredMessage, UserId, Watermarks } from "../domain/index.ts";

/** What a worker (or another gateway) sends to a device's stream. */
export type DeliveryEvent =
  | { readonly type: "message"; readonly message: StoredMessage }
  | {
      readonly type: "send_result";
      readonly conversationId: ConversationId;
      readonly clientMsgId: string;
      readonly seq: Seq;
      readonly duplicate: boolean;
    }
  | {
      readonly type: "receipt";
      readonly conversationId: ConversationId;
      readonly userId: UserId;
      readonly watermarks: Watermarks;
    }
  | {
      readonly type: "typing";
      readonly conversationId: ConversationId;
      readonly userId: UserId;
      readonly typing: boolean;
    }
  /** Another gateway took over the device: end the named session. */
  | { readonly type: "evict"; readonly sessionId: string };

export interface Delivery {
  readonly deviceId: DeviceId;
  readonly event: DeliveryEvent;
}

/**
 * The push port: worker/gateway -> gateway delivery of events to device
 * streams (DESIGN §6). In-process for the embedded default, a long-lived
 * internal gRPC stream per gateway in distributed mode.
 *
 * Contract: best effort and ordered per target gateway. A push to a gateway
 * that is gone, or to a device no longer connected there, is dropped without
 * error: the device catches up from its cursor on reconnect.
 */
export interface PushLink {
  push(gatewayId: GatewayId, deliveries: readonly Delivery[]): Promise<void>;
}

/** The receiving end a gateway registers to get its deliveries. */
export type DeliverySink = (deliveries: readonly Delivery[]) => void;
