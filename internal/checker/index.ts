/**
 * The history checker: drives SDK devices through a seeded workload while
 * injecting network, device and server faults, records what every device
 * observed, and verifies DESIGN §3 invariants 1-5 on the whole history.
 */
export { runCheck, formatSummary, removeDataDir } from "./run-check.ts";
export type { CheckDeps, CheckReport } from "./run-check.ts";
export { defaultCheckConfig, parseCheckArgs } from "./check-config.ts";
export type { CheckConfig, CheckMode, FaultOrder } from "./check-config.ts";
export { allFaultKinds, distributedFaultKinds, faultKinds } from "./fault-injector.ts";
export type { FaultKind } from "./fault-injector.ts";
export { verifyHistory } from "./verify-history.ts";
export { countNames } from "./violations.ts";
export type { CountName, Verdict, Violation, ViolationKind } from "./violations.ts";
export type {
  FinalConversation,
  FinalDevice,
  HeldMessage,
  History,
  HistoryConversation,
  HistoryDevice,
  Observation,
  SendRecord,
  ServerConversation,
  WatermarkRecord,
} from "./history.ts";
export { createHistoryRecorder } from "./history-recorder.ts";
export type { HistoryRecorder, RecorderStats } from "./history-recorder.ts";
export { collectServerState, directApi, listAll, ownWatermarks } from "./server-state.ts";
export type { UserCredentials } from "./server-state.ts";
export { readFinalConversation, watermarksShown } from "./quiescence.ts";
export { createPrng } from "./prng.ts";
export type { Prng } from "./prng.ts";
