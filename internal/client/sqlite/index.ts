/**
 * SQLite-file storage for the client SDK (Bun only). A separate entry point
 * from `internal/client/index.ts` so that browser bundles never import
 * bun:sqlite.
 */
export { createSqliteStorage, type SqliteStorageConfig } from "./sqlite-storage.ts";
