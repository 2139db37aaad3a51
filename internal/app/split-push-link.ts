import type { GatewayId } from "../domain/index.ts";
import type { PushLink } from "../push/index.ts";

/**
 * Pushes to this process's own gateway go straight to it (no network hop);
 * pushes to any other gateway go through the remote link.
 */
export function createSplitPushLink(local: PushLink, localGatewayId: GatewayId | undefined, remote: PushLink): PushLink {
  return {
    push(gatewayId, deliveries) {
      return gatewayId === localGatewayId ? local.push(gatewayId, deliveries) : remote.push(gatewayId, deliveries);
    },
  };
}
