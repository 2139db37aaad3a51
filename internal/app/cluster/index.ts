export { startTestCluster } from "./test-cluster.ts";
export type { TestCluster, ClusterProcess, ClusterOptions } from "./test-cluster.ts";
