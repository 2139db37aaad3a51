import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeClientStorage } from "../client-storage.conformance.ts";
import { createSqliteStorage } from "./sqlite-storage.ts";

describeClientStorage("sqlite file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "chat-client-storage-"));
  const path = join(dir, "device.sqlite");
  let current = createSqliteStorage({ path });
  return {
    storage: current,
    reopen: async () => {
      await current.close();
      current = createSqliteStorage({ path });
      return current;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}, { durable: true });
