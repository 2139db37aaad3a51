import { runMain } from "../../internal/app/index.ts";

/**
 * `npm start`: every role (gateway + worker) in one process. With no
 * configuration it runs on the embedded backends (no external services);
 * see README for the variables, including the distributed backends.
 */
await runMain("server", ["gateway", "worker"]);
