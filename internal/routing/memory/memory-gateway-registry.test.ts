import { createManualClock } from "../../domain/index.ts";
import { describeGatewayRegistry } from "../gateway-registry.conformance.ts";
import { createMemoryGatewayRegistry } from "./memory-gateway-registry.ts";

describeGatewayRegistry("memory", async () => {
  const clock = createManualClock(1_700_000_000_000);
  const registry = createMemoryGatewayRegistry({ clock });
  return {
    registry,
    advance: async (ms) => clock.advance(ms),
    dispose: () => registry.close(),
  };
});
