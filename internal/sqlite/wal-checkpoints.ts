import type { Database } from "bun:sqlite";
import { Worker } from "node:worker_threads";

/**
 * WAL size, in pages, at which the writing connection checkpoints by itself
 * anyway (about 40 MiB with 4 KiB pages): a safety net should the background
 * thread fall behind, far above what it lets accumulate.
 */
const SAFETY_NET_PAGES = 10_000;

/** Stops the background checkpoints of one database; resolves once their connection is closed. */
export interface BackgroundCheckpoints {
  release(): Promise<void>;
}

let worker: Worker | undefined;
let nextId = 0;
/** Releases waiting for their connection to close: the worker keeps the process alive only while there are some. */
const removed = new Map<number, () => void>();

function checkpointWorker(): Worker {
  if (worker) return worker;
  const started = new Worker(new URL("./checkpoint-worker.ts", import.meta.url));
  started.on("message", (message: { op: "removed"; id: number }) => {
    removed.get(message.id)?.();
    removed.delete(message.id);
    if (removed.size === 0) started.unref();
  });
  // A thread that died checkpoints nothing: the writers' safety nets remain, and a later database starts a new one.
  started.on("error", () => {
    if (worker === started) worker = undefined;
    for (const resolve of removed.values()) resolve();
    removed.clear();
  });
  // An idle checkpointer must not keep the process alive.
  started.unref();
  worker = started;
  return started;
}

/**
 * Moves a WAL database's checkpoints off the writing thread.
 *
 * SQLite checkpoints in the connection whose commit grows the WAL past
 * `wal_autocheckpoint` pages (1,000 by default): that commit also copies the
 * WAL's pages into the database file and fsyncs both, several milliseconds
 * during which an event loop serving device streams does nothing else. Here
 * one worker thread per process holds a second connection to each database
 * and runs a PASSIVE checkpoint every `intervalMs`: it copies what the
 * writer has committed while the writer goes on (WAL allows one writer and a
 * checkpointer at once), and the writer restarts the WAL from its beginning
 * once everything in it has been copied. The writing connection keeps a
 * checkpoint of its own only as a safety net, at SAFETY_NET_PAGES.
 *
 * `intervalMs <= 0`, or an in-memory database, leaves SQLite's own
 * checkpoints as they are.
 */
export function checkpointInBackground(db: Database, path: string, intervalMs: number): BackgroundCheckpoints {
  if (intervalMs <= 0 || path === "" || path === ":memory:") return { release: () => Promise.resolve() };
  db.run(`PRAGMA wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
  const id = nextId++;
  const thread = checkpointWorker();
  thread.postMessage({ op: "add", id, path, intervalMs });
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= new Promise<void>((resolve) => {
        removed.set(id, resolve);
        thread.ref();
        thread.postMessage({ op: "remove", id });
      });
      return released;
    },
  };
}
