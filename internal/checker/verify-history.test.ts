import { describe, expect, test } from "bun:test";
import type { FinalConversation, FinalDevice, HeldMessage, History, Observation, SendRecord } from "./history.ts";
import { verifyHistory } from "./verify-history.ts";
import type { CountName } from "./violations.ts";

// Users ua (devices a1, a2) and ub (device b1) in conversation c1; three messages.
const conv = "c1";
const held: HeldMessage[] = [
  { seq: 10, prevSeq: 0, clientMsgId: "m1" },
  { seq: 20, prevSeq: 10, clientMsgId: "m2" },
  { seq: 35, prevSeq: 20, clientMsgId: "m3" },
];
const watermarks = [
  { userId: "ua", deliveredSeq: 35, readSeq: 20 },
  { userId: "ub", deliveredSeq: 35, readSeq: 35 },
];
const finalOf = (deviceId: string, messages = held): FinalDevice => ({
  deviceId,
  live: true,
  conversations: [{ conversationId: conv, messages, cursor: 35, hasOlder: false, pendingSends: 0, watermarks }],
});

function goodHistory(): History {
  const sends: SendRecord[] = [
    { clientMsgId: "m1", conversationId: conv, deviceId: "a1", sentAck: true, resultSeq: 10 },
    { clientMsgId: "m2", conversationId: conv, deviceId: "b1", sentAck: true, resultSeq: 20 },
    { clientMsgId: "m3", conversationId: conv, deviceId: "a1", sentAck: true },
  ];
  const observations: Observation[] = [{ kind: "fault", atMs: 1, description: "proxy down a2 for 200ms" }];
  for (const deviceId of ["a1", "a2", "b1"]) {
    for (const m of held) observations.push({ kind: "message", atMs: 2, deviceId, conversationId: conv, ...m });
  }
  observations.push(
    { kind: "receipt", atMs: 3, deviceId: "a1", conversationId: conv, userId: "ub", deliveredSeq: 20, readSeq: 10 },
    { kind: "receipt", atMs: 4, deviceId: "a1", conversationId: conv, userId: "ub", deliveredSeq: 35, readSeq: 35 },
  );
  return {
    conversations: [{ conversationId: conv, userIds: ["ua", "ub"] }],
    devices: [
      { deviceId: "a1", userId: "ua" },
      { deviceId: "a2", userId: "ua" },
      { deviceId: "b1", userId: "ub" },
    ],
    sends,
    observations,
    final: [finalOf("a1"), finalOf("a2"), finalOf("b1")],
    server: [{ conversationId: conv, headSeq: 35, messages: held, watermarks }],
  };
}

/** Replaces one device's final conversation. */
const withFinal = (h: History, deviceId: string, change: (c: FinalConversation) => FinalConversation): History => ({
  ...h,
  final: h.final.map((d) =>
    d.deviceId === deviceId ? { ...d, conversations: d.conversations.map((c) => change(c)) } : d,
  ),
});
const lowerReceipt: Observation = { kind: "receipt", atMs: 5, deviceId: "a1", conversationId: conv, userId: "ub", deliveredSeq: 20, readSeq: 20 };

const cases: { name: string; mutate: (h: History) => History; expected: Partial<Record<CountName, number>> }[] = [
  {
    name: "a duplicate: one client id stored under two seqs",
    mutate: (h) => {
      const twice = [...held, { seq: 40, prevSeq: 35, clientMsgId: "m3" }];
      let all: History = { ...h, server: [{ ...h.server[0]!, headSeq: 40, messages: twice }] };
      for (const d of ["a1", "a2", "b1"]) all = withFinal(all, d, (c) => ({ ...c, messages: twice, cursor: 40 }));
      return all;
    },
    expected: { duplicated: 1, bad_watermarks: 2 },
  },
  {
    name: "a duplicate: the same seq handed to the app twice",
    mutate: (h) => ({ ...h, observations: [...h.observations, { kind: "message", atMs: 6, deviceId: "b1", conversationId: conv, ...held[1]! }] }),
    expected: { duplicated: 1 },
  },
  {
    name: "a duplicate: SendResult named another seq than the stored copy",
    mutate: (h) => ({ ...h, sends: h.sends.map((s) => (s.clientMsgId === "m1" ? { ...s, resultSeq: 11 } : s)) }),
    expected: { duplicated: 1 },
  },
  {
    name: "a loss: a message acknowledged as sent is missing on one device",
    mutate: (h) => withFinal(h, "a2", (c) => ({ ...c, messages: [held[0]!, held[2]!] })),
    expected: { lost: 1, gaps: 1, unconverged_devices: 1 },
  },
  {
    name: "undelivered: a composed message never acknowledged is nowhere",
    mutate: (h) => ({ ...h, sends: [...h.sends, { clientMsgId: "m4", conversationId: conv, deviceId: "b1", sentAck: false }] }),
    expected: { undelivered: 1 },
  },
  {
    name: "a failed send: a valid message refused for good",
    mutate: (h) => ({ ...h, sends: [...h.sends, { clientMsgId: "m5", conversationId: conv, deviceId: "b1", sentAck: false, failed: "INTERNAL" }] }),
    expected: { failed: 1 },
  },
  {
    name: "a reorder: a device holds two messages in swapped places",
    mutate: (h) =>
      withFinal(h, "b1", (c) => ({
        ...c,
        messages: [held[0]!, { ...held[1]!, clientMsgId: "m3" }, { ...held[2]!, clientMsgId: "m2" }],
      })),
    expected: { reordered: 2 },
  },
  {
    name: "a reorder: a device's later message was sequenced before its earlier one",
    mutate: (h) => ({ ...h, sends: [h.sends[2]!, h.sends[1]!, h.sends[0]!] }),
    expected: { reordered: 1 },
  },
  {
    name: "a gap: a broken prev_seq chain on the server",
    mutate: (h) => ({ ...h, server: [{ ...h.server[0]!, messages: [held[0]!, { ...held[1]!, prevSeq: 5 }, held[2]!] }] }),
    expected: { gaps: 1, reordered: 3 },
  },
  {
    name: "a gap: a cursor stuck below the held messages",
    mutate: (h) => withFinal(h, "b1", (c) => ({ ...c, cursor: 10 })),
    expected: { gaps: 1 },
  },
  {
    name: "a gap: older history the device cannot reach",
    mutate: (h) => withFinal(h, "a1", (c) => ({ ...c, hasOlder: true })),
    expected: { gaps: 1 },
  },
  {
    name: "a receipt regression: a device shows delivered going down",
    mutate: (h) => ({ ...h, observations: [...h.observations, lowerReceipt] }),
    expected: { receipt_regressions: 1 },
  },
  {
    name: "server watermarks out of read <= delivered <= head",
    mutate: (h) => ({ ...h, server: [{ ...h.server[0]!, watermarks: [{ userId: "ua", deliveredSeq: 20, readSeq: 35 }, watermarks[1]!] }] }),
    expected: { bad_watermarks: 1, unconverged_devices: 3 },
  },
  {
    name: "a device ends with other watermarks than the server",
    mutate: (h) => withFinal(h, "a2", (c) => ({ ...c, watermarks: [watermarks[0]!, { userId: "ub", deliveredSeq: 35, readSeq: 20 }] })),
    expected: { unconverged_devices: 1 },
  },
  {
    name: "a device that never came back",
    mutate: (h) => ({ ...h, final: h.final.filter((d) => d.deviceId !== "b1") }),
    expected: { unconverged_devices: 1, lost: 3 },
  },
  {
    name: "a phantom: the server holds a message nobody composed",
    mutate: (h) => ({ ...h, sends: h.sends.filter((s) => s.clientMsgId !== "m2") }),
    expected: { phantoms: 1 },
  },
];

describe("verifyHistory", () => {
  test("a clean history has no violations", () => {
    const verdict = verifyHistory(goodHistory());
    expect(verdict.violations).toEqual([]);
    expect(verdict.ok).toBe(true);
  });

  test.each(cases)("reports $name", ({ mutate, expected }) => {
    const verdict = verifyHistory(mutate(goodHistory()));
    expect(verdict.ok).toBe(false);
    const nonZero = Object.fromEntries(Object.entries(verdict.counts).filter(([, n]) => n > 0));
    expect(nonZero).toEqual(expected);
  });

  test("a server-ordered reset explains watermarks starting over", () => {
    const reset: Observation = { kind: "reset", atMs: 5, deviceId: "a1", conversationId: conv };
    const h = goodHistory();
    expect(verifyHistory({ ...h, observations: [...h.observations, reset, lowerReceipt] }).ok).toBe(true);
  });

  test("evidence names the offending observations and the faults before them", () => {
    const h = goodHistory();
    const verdict = verifyHistory({ ...h, observations: [...h.observations, lowerReceipt] });
    const evidence = verdict.violations[0]?.evidence ?? [];
    expect(evidence.some((line) => line.includes("fault proxy down a2"))).toBe(true);
    expect(evidence.filter((line) => line.includes("shows receipt"))).toHaveLength(2);
  });
});
