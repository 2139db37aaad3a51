import { runMain } from "../../internal/app/index.ts";

/**
 * A worker process (distributed mode): a member of the WORKER_GROUP consumer
 * group that sequences, stores and pushes the partitions it owns. Run any
 * number of them; partitions move between them on join, leave and crash.
 */
await runMain("worker", ["worker"]);
