import { describe, expect, test } from "bun:test";
import { presenceLine, tickText } from "./screen.ts";

const at = (iso: string): number => new Date(iso).getTime();

describe("terminal screen text", () => {
  test.each([
    { name: "unknown presence shows nothing", presence: undefined, want: "" },
    { name: "online", presence: { userId: "u", online: true, lastSeenMs: 0 }, want: "online" },
    { name: "never seen shows nothing", presence: { userId: "u", online: false, lastSeenMs: 0 }, want: "" },
    {
      name: "last seen today shows the time only",
      presence: { userId: "u", online: false, lastSeenMs: at("2026-03-01T09:05:00") },
      want: "last seen 09:05",
    },
    {
      name: "last seen another day shows the date",
      presence: { userId: "u", online: false, lastSeenMs: at("2026-02-27T23:59:00") },
      want: "last seen 2026-02-27 23:59",
    },
  ])("$name", ({ presence, want }) => {
    expect(presenceLine(presence, at("2026-03-01T18:00:00"))).toBe(want);
  });

  test.each([
    { tick: "pending", want: "… pending" },
    { tick: "sent", want: "✓ sent" },
    { tick: "delivered", want: "✓✓ delivered" },
    { tick: "read", want: "✓✓ read" },
    { tick: "failed", want: "! not sent" },
  ] as const)("tick $tick reads as words without colour", ({ tick, want }) => {
    expect(tickText(tick, false)).toBe(want);
  });

  test("read is blue on a terminal", () => {
    expect(tickText("read", true)).toBe("\x1b[34m✓✓ read\x1b[0m");
  });
});
