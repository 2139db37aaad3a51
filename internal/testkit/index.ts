export { realBackends, describeWithBackends } from "./real-backends.ts";
export type { RealBackends, BackendName } from "./real-backends.ts";
