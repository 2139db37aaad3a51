import type { GatewayId } from "../../domain/index.ts";
import type { DeliverySink, PushLink } from "../push-link.ts";

/** The in-process {@link PushLink}, plus the gateways' side of it. */
export interface LocalPushHub extends PushLink {
  /**
   * Makes `sink` the receiver of the gateway's deliveries, replacing any
   * earlier sink (a gateway restarted in the same process); returns the detach
   * function, which only removes this sink, never a later one.
   */
  attach(gatewayId: GatewayId, sink: DeliverySink): () => void;
}

/**
 * Creates the embedded push link: pushes go straight to the attached
 * gateway's sink, synchronously, so they arrive in push order per gateway.
 * A push to a gateway with no sink is dropped without error, as the port
 * contract allows: the device catches up from its cursor on reconnect.
 *
 * A sink that throws propagates to the pusher: that is a gateway bug, and
 * hiding it would turn it into silent message delay.
 */
export function createLocalPushHub(): LocalPushHub {
  const sinks = new Map<GatewayId, DeliverySink>();

  return {
    async push(gatewayId, deliveries) {
      const sink = sinks.get(gatewayId);
      if (sink === undefined || deliveries.length === 0) return;
      // A copy, as a network hop would make: the pusher may reuse its array.
      sink(Object.freeze([...deliveries]));
    },

    attach(gatewayId, sink) {
      sinks.set(gatewayId, sink);
      return () => {
        if (sinks.get(gatewayId) === sink) sinks.delete(gatewayId);
      };
    },
  };
}
