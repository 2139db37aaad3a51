import type { History, Observation } from "./history.ts";

/** What kind of guarantee a violation breaks (DESIGN §3, invariants 1-5). */
export type ViolationKind =
  /** A message whose sender saw "sent" is missing on a device (invariant 3). */
  | "lost"
  /** A composed message never acknowledged as sent is missing: the outbox should still deliver it (invariant 3). */
  | "undelivered"
  /** The server refused a valid message for good. */
  | "failed"
  /** One client id under two seqs, twice in one list, or handed to the app twice (invariant 2). */
  | "duplicated"
  /** Devices or server disagree on which message sits at a seq, seqs do not rise, or a device's sends overtook each other (invariant 1). */
  | "reordered"
  /** A broken prev_seq chain, a cursor stuck below held messages, or older history out of reach (invariant 4). */
  | "gap"
  /** A device saw a watermark go down (invariant 5). */
  | "receipt_regression"
  /** Server watermarks out of read <= delivered <= head, or below head after quiescence (invariant 5). */
  | "bad_watermark"
  /** A device or the server holds a message nobody composed, or a seq the server does not hold. */
  | "phantom"
  /** A device ended different from the server: missing messages, pending sends, watermarks, offline (invariants 3, 5). */
  | "unconverged";

/** One broken guarantee, with what the recorded history says about it. */
export interface Violation {
  readonly kind: ViolationKind;
  /** Identity of the fault: the same fault found by two checks counts once. */
  readonly key: string;
  readonly message: string;
  /** The first observations (and preceding faults) involved, formatted. */
  readonly evidence: readonly string[];
}

/** Counter names of the summary line, in print order. */
export const countNames = [
  "lost",
  "undelivered",
  "failed",
  "duplicated",
  "reordered",
  "gaps",
  "receipt_regressions",
  "bad_watermarks",
  "phantoms",
  "unconverged_devices",
] as const;
export type CountName = (typeof countNames)[number];

const counterOf: Record<ViolationKind, CountName> = {
  lost: "lost",
  undelivered: "undelivered",
  failed: "failed",
  duplicated: "duplicated",
  reordered: "reordered",
  gap: "gaps",
  receipt_regression: "receipt_regressions",
  bad_watermark: "bad_watermarks",
  phantom: "phantoms",
  unconverged: "unconverged_devices",
};

/** The outcome of verifying a history. */
export interface Verdict {
  readonly ok: boolean;
  /** Distinct violations per counter (unconverged: distinct devices). */
  readonly counts: Readonly<Record<CountName, number>>;
  /** In detection order, one per key. */
  readonly violations: readonly Violation[];
}

/** Collects violations, one per (kind, key), attaching evidence for the first few. */
export interface ViolationLog {
  add(kind: ViolationKind, key: string, message: string, involves?: (o: Observation) => boolean): void;
  verdict(): Verdict;
}

const evidencePerViolation = 6;
const faultsBeforeEvidence = 3;
const violationsWithEvidence = 50;

/** Creates a log over the history's observations (used for evidence only). */
export function createViolationLog(history: Pick<History, "observations">): ViolationLog {
  const byKey = new Map<string, Violation>();
  const startMs = history.observations[0]?.atMs ?? 0;
  const format = (o: Observation): string => {
    const at = `t=+${o.atMs - startMs}ms`;
    switch (o.kind) {
      case "message":
        return `${at} device=${o.deviceId} got message conv=${o.conversationId} seq=${o.seq} prev=${o.prevSeq} id=${o.clientMsgId}`;
      case "receipt":
        return `${at} device=${o.deviceId} shows receipt conv=${o.conversationId} user=${o.userId} delivered=${o.deliveredSeq} read=${o.readSeq}`;
      case "reset":
        return `${at} device=${o.deviceId} reset conv=${o.conversationId}`;
      case "fault":
        return `${at} fault ${o.description}`;
    }
  };
  const evidence = (involves: (o: Observation) => boolean): string[] => {
    const found: string[] = [];
    const observations = history.observations;
    for (let i = 0; i < observations.length && found.length < evidencePerViolation; i++) {
      const o = observations[i] as Observation;
      if (!involves(o)) continue;
      if (found.length === 0) {
        // The faults just before the first involved observation are the usual suspects.
        const faults: string[] = [];
        for (let j = i - 1; j >= 0 && faults.length < faultsBeforeEvidence; j--) {
          const f = observations[j] as Observation;
          if (f.kind === "fault") faults.unshift(format(f));
        }
        found.push(...faults);
      }
      found.push(format(o));
    }
    return found;
  };

  return {
    add(kind, key, message, involves) {
      const id = `${kind}\u0000${key}`;
      if (byKey.has(id)) return;
      const withEvidence = involves && byKey.size < violationsWithEvidence;
      byKey.set(id, { kind, key, message, evidence: withEvidence ? evidence(involves) : [] });
    },
    verdict() {
      const violations = [...byKey.values()];
      const counts = Object.fromEntries(countNames.map((n) => [n, 0])) as Record<CountName, number>;
      for (const v of violations) counts[counterOf[v.kind]]++;
      return { ok: violations.length === 0, counts, violations };
    },
  };
}
