import { describeClientStorage } from "./client-storage.conformance.ts";
import { createMemoryStorage } from "./memory-storage.ts";

describeClientStorage("memory", async () => ({ storage: createMemoryStorage() }), { durable: false });
