export { fuzzApi } from "./fuzz-api.ts";
export type { FuzzReport, FuzzViolation } from "./fuzz-api.ts";
export { mutate, MUTATION_KINDS } from "./wire-mutations.ts";
export type { MutationKind, Random } from "./wire-mutations.ts";
