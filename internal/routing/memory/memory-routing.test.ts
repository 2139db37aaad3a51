import { createManualClock } from "../../domain/index.ts";
import { describeRoutingTable } from "../routing-table.conformance.ts";
import { createMemoryRoutingTable } from "./memory-routing.ts";

describeRoutingTable("memory", async () => {
  const clock = createManualClock(1_700_000_000_000);
  const table = createMemoryRoutingTable({ clock });
  return {
    table,
    advance: async (ms) => clock.advance(ms),
    dispose: () => table.close(),
  };
});
