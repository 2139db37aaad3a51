import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { assertValidConfig, type CassandraStoreConfig } from "./cassandra-config.ts";
import { isSchemaMissing, openCqlSession, type CqlSession } from "./cql-session.ts";

/** One versioned schema file, `schema/NNN_name.cql`. */
export interface SchemaFile {
  readonly version: number;
  readonly name: string;
  /** The file name, `NNN_name.cql`. */
  readonly file: string;
  /** sha256 of the file: a released file that changed is refused. */
  readonly checksum: string;
  readonly statements: readonly string[];
}

/** What one migration run did. */
export interface MigrationReport {
  readonly keyspace: string;
  /** Versions applied by this run, in order (empty when already current). */
  readonly applied: ReadonlyArray<{ readonly version: number; readonly name: string; readonly file: string }>;
  /** The highest version now recorded. */
  readonly version: number;
}

export interface MigrateDeps {
  readonly logger?: { info(fields: object, message: string): void };
}

const SCHEMA_DIR = join(import.meta.dir, "schema");
const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.cql$/;

/** The schema files in version order; throws on a duplicate version. */
export function loadSchemaFiles(dir: string = SCHEMA_DIR): SchemaFile[] {
  const files = readdirSync(dir)
    .map((f) => ({ f, m: FILE_NAME.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => {
      const text = readFileSync(join(dir, f), "utf8");
      return {
        version: Number(m[1]),
        name: m[2] ?? f,
        file: f,
        checksum: createHash("sha256").update(text).digest("hex"),
        statements: splitStatements(text),
      };
    })
    .sort((a, b) => a.version - b.version);
  for (const [i, file] of files.entries()) {
    if (i > 0 && files[i - 1]?.version === file.version) {
      throw new Error(`two schema files with version ${file.version}`);
    }
  }
  return files;
}

/** Statements of a CQL file: `--` comments dropped, split at `;`. */
export function splitStatements(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/--.*$/, ""))
    .join("\n")
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * Brings the keyspace to the newest schema: creates it if missing
 * (SimpleStrategy with cfg.replicationFactor; a production keyspace with
 * NetworkTopologyStrategy is created by the operator first and left as is),
 * then applies, in order, each schema file whose version is not recorded in
 * schema_migrations, recording it after its last statement. Idempotent: a
 * second run applies nothing, and every statement is IF NOT EXISTS, so a run
 * interrupted mid-file repeats that file harmlessly. The driver waits for
 * schema agreement after each DDL statement before the next one runs.
 */
export async function migrateCassandra(cfg: CassandraStoreConfig, deps: MigrateDeps = {}): Promise<MigrationReport> {
  assertValidConfig(cfg);
  const files = loadSchemaFiles();
  const bootstrap = await openCqlSession(cfg, undefined);
  try {
    await bootstrap.rows(
      "migrate",
      `CREATE KEYSPACE IF NOT EXISTS ${cfg.keyspace} WITH replication = ` +
        `{'class': 'SimpleStrategy', 'replication_factor': ${cfg.replicationFactor}}`,
      [],
      { prepare: false },
    );
  } finally {
    await bootstrap.close();
  }

  const session = await openCqlSession(cfg, cfg.keyspace);
  try {
    await session.rows(
      "migrate",
      "CREATE TABLE IF NOT EXISTS schema_migrations " +
        "(version int PRIMARY KEY, name text, checksum text, applied_at_ms bigint)",
      [],
      { prepare: false },
    );
    const recorded = await recordedVersions(session);
    const applied: Array<{ version: number; name: string; file: string }> = [];
    for (const file of files) {
      const known = recorded.get(file.version);
      if (known !== undefined) {
        if (known !== file.checksum) {
          throw new Error(`schema file ${file.file} changed after it was applied: add a new file instead`);
        }
        continue;
      }
      for (const statement of file.statements) await session.rows("migrate", statement, [], { prepare: false });
      await session.rows(
        "migrate",
        "INSERT INTO schema_migrations (version, name, checksum, applied_at_ms) VALUES (?, ?, ?, ?)",
        [file.version, file.name, file.checksum, Date.now()],
      );
      deps.logger?.info(
        { keyspace: cfg.keyspace, version: file.version, name: file.name },
        "cassandra schema migrated",
      );
      applied.push({ version: file.version, name: file.name, file: file.file });
    }
    const version = Math.max(0, ...files.map((f) => f.version), ...recorded.keys());
    return { keyspace: cfg.keyspace, applied, version };
  } finally {
    await session.close();
  }
}

/**
 * Refuses to run on a keyspace that misses a schema version this build
 * needs. A newer version recorded by a newer build is fine: migrations only
 * add, so a rolling deploy runs old and new code side by side.
 */
export async function assertSchemaCurrent(session: CqlSession, keyspace: string): Promise<void> {
  const recorded = await recordedVersions(session).catch((error: unknown) => {
    if (isSchemaMissing(error)) return new Map<number, string>();
    throw error;
  });
  const missing = loadSchemaFiles().filter((f) => !recorded.has(f.version));
  if (missing.length > 0) {
    const names = missing.map((f) => f.file).join(", ");
    throw new Error(`cassandra keyspace ${keyspace} lacks schema ${names}: run cmd/migrate (STORE_URL=...)`);
  }
}

async function recordedVersions(session: CqlSession): Promise<Map<number, string>> {
  // A whole-table read, fine for a table of a handful of rows.
  const rows = await session.allRows("schema", "SELECT version, checksum FROM schema_migrations", [], 100);
  return new Map(rows.map((r) => [Number(r.get("version")), String(r.get("checksum"))]));
}
