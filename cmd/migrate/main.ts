import pino from "pino";
import { migrateCassandra, parseCassandraUrl } from "../../internal/store/cassandra/index.ts";

/**
 * `STORE_URL=cassandra://host:port[,host:port]/keyspace?dc=datacenter1&rf=3 bun cmd/migrate/main.ts`
 *
 * Applies the pending Cassandra schema files (internal/store/cassandra/schema)
 * and prints what it applied. A deploy step of its own: the store refuses to
 * open on a keyspace that lacks a version, it never migrates by itself in
 * production. Safe to run again (it then applies nothing). Exit codes:
 * 0 done, 1 the migration failed, 2 bad STORE_URL.
 */
async function main(): Promise<number> {
  const url = process.env.STORE_URL ?? "";
  if (url.startsWith("sqlite:")) {
    console.log("STORE_URL is a SQLite store: it migrates itself when it opens, nothing to do");
    return 0;
  }
  let cfg;
  try {
    cfg = parseCassandraUrl(url);
  } catch (error) {
    const message = url === "" ? "STORE_URL is not set (cassandra://host:port/keyspace?dc=...)" : String(error);
    console.error(message);
    return 2;
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" });
  try {
    const report = await migrateCassandra(cfg, { logger });
    for (const step of report.applied) console.log(`applied ${step.file} to keyspace ${report.keyspace}`);
    console.log(
      report.applied.length === 0
        ? `keyspace ${report.keyspace} is current (schema version ${report.version}): nothing to apply`
        : `keyspace ${report.keyspace} is now at schema version ${report.version}`,
    );
    return 0;
  } catch (error) {
    console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

process.exit(await main());
