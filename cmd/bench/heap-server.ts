import { heapStats } from "bun:jsc";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `HEAP_STATS_DIR=/tmp/h bun cmd/bench/heap-server.ts`: the server (every role,
 * configured like `npm start`) plus a heap probe for memory measurements. On
 * SIGUSR2 it forces a full collection and writes `heap-<n>.json` (RSS, heap
 * size, object count and objects per type from bun:jsc) into HEAP_STATS_DIR.
 * Two dumps around a bench phase, e.g. `--scenario idle --mode external`,
 * give what each connection holds once garbage is gone; docs/benchmarks.md,
 * idle, has such a run. With HEAP_SNAPSHOT=1 each dump also writes
 * `heap-<n>.snapshot.json` (Bun.generateHeapSnapshot), which
 * `bun cmd/bench/heap-snapshot-summary.ts FILE N` breaks down per connection.
 */
const dir = process.env.HEAP_STATS_DIR ?? ".";
let dumps = 0;
process.on("SIGUSR2", () => {
  Bun.gc(true);
  const stats = heapStats();
  const file = join(dir, `heap-${dumps++}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      rssBytes: process.memoryUsage().rss,
      heapBytes: stats.heapSize,
      objects: stats.objectCount,
      objectsByType: stats.objectTypeCounts,
    }),
  );
  console.error(`heap stats written to ${file}`);
  if (process.env.HEAP_SNAPSHOT === "1") {
    const snapshotFile = join(dir, `heap-${dumps - 1}.snapshot.json`);
    writeFileSync(snapshotFile, JSON.stringify(Bun.generateHeapSnapshot()));
    console.error(`heap snapshot written to ${snapshotFile}`);
  }
});
await import("../server/main.ts");
