import { runMain } from "../../internal/app/index.ts";

/**
 * A gateway process (distributed mode): device streams on PORT, the internal
 * push endpoint on PUSH_PORT (announced in the gateway registry). Run any
 * number of them against the same LOG_URL, STORE_URL and REDIS_URL.
 */
await runMain("gateway", ["gateway"]);
