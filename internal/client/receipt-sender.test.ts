import { describe, expect, test } from "bun:test";
import type { Watermarks } from "./conversation-state.ts";
import { createManualRuntime } from "./manual-runtime.ts";
import { createReceiptSender } from "./receipt-sender.ts";
import type { StreamLink } from "./stream-link.ts";

function recordingLink(): StreamLink & { frames: string[] } {
  const frames: string[] = [];
  return {
    frames,
    events: (async function* () {})(),
    carriesPings: true,
    send: () => undefined,
    ack: (c, seq) => void frames.push(`ack ${c} ${seq}`),
    markRead: (c, seq) => void frames.push(`read ${c} ${seq}`),
    setTyping: () => undefined,
    watchPresence: () => undefined,
    ping: () => undefined,
    close: () => undefined,
  };
}

function setup() {
  const runtime = createManualRuntime();
  const cursors = new Map<string, number>();
  const own = new Map<string, Watermarks>();
  let link: StreamLink | undefined = recordingLink();
  const sender = createReceiptSender(
    { ackDelayMs: 20, retryDelayMs: 1_000 },
    {
      timers: runtime.timers,
      link: () => link,
      cursor: (id) => cursors.get(id) ?? 0,
      own: (id) => own.get(id),
    },
  );
  return {
    runtime,
    cursors,
    own,
    sender,
    setLink: (next: StreamLink | undefined) => (link = next),
    frames: () => (link as ReturnType<typeof recordingLink> | undefined)?.frames ?? [],
  };
}

describe("receipt sender", () => {
  test("acks each conversation once per batching window, at its latest cursor", async () => {
    const { runtime, cursors, sender, frames } = setup();
    for (const seq of [3, 5, 9]) {
      cursors.set("c1", seq);
      sender.delivered("c1");
    }
    cursors.set("c2", 4);
    sender.delivered("c2");
    expect(frames()).toEqual([]);
    await runtime.advance(20);
    expect(frames()).toEqual(["ack c1 9", "ack c2 4"]);
  });

  test("does not ack what the user's watermark or an earlier ack already covers", async () => {
    const { runtime, cursors, own, sender, frames } = setup();
    own.set("c1", { deliveredSeq: 9, readSeq: 0 });
    cursors.set("c1", 9);
    sender.delivered("c1");
    cursors.set("c2", 4);
    sender.delivered("c2");
    await runtime.advance(20);
    sender.delivered("c2");
    await runtime.advance(20);
    expect(frames()).toEqual(["ack c2 4"]);
  });

  test("sends reads above the own read watermark only, and the highest wins", () => {
    const { own, sender, frames } = setup();
    own.set("c1", { deliveredSeq: 5, readSeq: 5 });
    sender.read("c1", 4);
    sender.read("c1", 7);
    sender.read("c1", 6);
    expect(frames()).toEqual(["read c1 7"]);
  });

  test("after a new stream, resync resends acks and reads the watermarks do not show yet", async () => {
    const { cursors, sender, setLink, frames } = setup();
    cursors.set("c1", 8);
    sender.read("c1", 8);
    setLink(undefined); // stream lost before anything was flushed
    sender.delivered("c1");
    const next = recordingLink();
    setLink(next);
    sender.linkChanged();
    sender.resync(["c1", "c2"]);
    expect(frames()).toEqual(["read c1 8", "ack c1 8"]);
  });
});
