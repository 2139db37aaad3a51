import { expect, test } from "bun:test";
import { requestsOf } from "./bidi-link.ts";

const ack = (seq: number) => ({ frame: { case: "ack" as const, value: { conversationId: "c", seq: BigInt(seq) } } });
const send = (text: string) => ({ frame: { case: "send" as const, value: { clientMsgId: "m", conversationId: "c", text } } });
const hello = { frame: { case: "hello" as const, value: { cursors: [] } } };
const shape = (requests: Iterable<{ frame?: { case?: string; value?: unknown } }>) =>
  [...requests].map((r) =>
    r.frame?.case === "batch" ? (r.frame.value as { frames: unknown[] }).frames.length : r.frame?.case,
  );

test("until the server takes batches, every frame is its own request", () => {
  expect(shape(requestsOf([hello, ack(1), ack(2)], false))).toEqual(["hello", "ack", "ack"]);
});

test("frames queued together become one batch, in order; a lone frame and a hello travel as they are", () => {
  const frames = [ack(1), send("a"), ack(2)];
  const [batch] = [...requestsOf(frames, true)];
  expect(batch!.frame).toEqual({ case: "batch", value: { frames: frames.map((f) => ({ frame: f.frame })) } });
  expect(shape(requestsOf([ack(1)], true))).toEqual(["ack"]);
  expect(shape(requestsOf([ack(1), hello, ack(2), ack(3)], true))).toEqual(["ack", "hello", 2]);
});

test("batches stay within 64 frames and the size budget; a frame over the budget goes alone", () => {
  expect(shape(requestsOf(Array.from({ length: 130 }, (_, i) => ack(i)), true))).toEqual([64, 64, 2]);
  const big = "x".repeat(5_000); // counted as ~15 KB (3 bytes per unit): two fit in 32 KiB, three do not
  expect(shape(requestsOf([send(big), send(big), send(big), ack(1)], true))).toEqual([2, 2]);
  expect(shape(requestsOf([send("x".repeat(20_000)), ack(1), ack(2)], true))).toEqual(["send", 2]);
});
