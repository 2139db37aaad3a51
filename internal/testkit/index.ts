export { realBackends, describeWithBackends, describeWhenAvailable } from "./real-backends.ts";
export type { RealBackends, BackendName } from "./real-backends.ts";
