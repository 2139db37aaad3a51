export { createCassandraStore, type CassandraStoreDeps } from "./cassandra-store.ts";
export {
  parseCassandraUrl,
  CONSISTENCY_LEVELS,
  type CassandraStoreConfig,
  type CassandraConsistency,
} from "./cassandra-config.ts";
export { migrateCassandra, loadSchemaFiles, type MigrationReport, type SchemaFile } from "./migrate-cassandra.ts";
