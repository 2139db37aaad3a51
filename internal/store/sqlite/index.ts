export { createSqliteStore, type SqliteStoreConfig, type SqliteStoreDeps } from "./sqlite-store.ts";
export { SCHEMA_VERSION } from "./sqlite-schema.ts";
