import { createManualClock } from "../../domain/index.ts";
import { describePresenceStore } from "../presence-store.conformance.ts";
import { createMemoryPresenceStore } from "./memory-presence.ts";

describePresenceStore("memory", async () => {
  const clock = createManualClock(1_700_000_000_000);
  const store = createMemoryPresenceStore({ clock });
  return {
    store,
    clock,
    advance: async (ms) => clock.advance(ms),
    dispose: () => store.close(),
  };
});
