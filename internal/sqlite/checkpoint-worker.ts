import { Database } from "bun:sqlite";
import { parentPort } from "node:worker_threads";

/**
 * The checkpointing thread of wal-checkpoints.ts: one connection per
 * registered database, a PASSIVE checkpoint of each every interval.
 *
 * Messages: `{ op: "add", id, path, intervalMs }` and `{ op: "remove", id }`,
 * answered with `{ op: "removed", id }` once that connection is closed.
 */
type Command =
  | { readonly op: "add"; readonly id: number; readonly path: string; readonly intervalMs: number }
  | { readonly op: "remove"; readonly id: number };

const open = new Map<number, { readonly db: Database; readonly timer: ReturnType<typeof setInterval> }>();

parentPort?.on("message", (command: Command) => {
  if (command.op === "add") {
    let db: Database;
    try {
      db = new Database(command.path, { readwrite: true });
      // Never wait for a lock: a checkpoint that cannot run now runs at the next tick.
      db.run("PRAGMA busy_timeout = 0");
    } catch {
      // The writing connection's own checkpoints (its safety net) remain.
      return;
    }
    const timer = setInterval(() => {
      try {
        // PASSIVE: copies what it can without waiting for the writer or readers, who go on meanwhile.
        db.run("PRAGMA wal_checkpoint(PASSIVE)");
      } catch {
        // SQLITE_BUSY (another checkpoint is running) or a closing database: try again next time.
      }
    }, command.intervalMs);
    open.set(command.id, { db, timer });
    return;
  }
  const entry = open.get(command.id);
  open.delete(command.id);
  if (entry) {
    clearInterval(entry.timer);
    entry.db.close();
  }
  parentPort?.postMessage({ op: "removed", id: command.id });
});
