import { expect, test } from "bun:test";
import { createSlots } from "./slots.ts";

test("at most `limit` holders; waiters get slots in arrival order; a double release frees one slot", async () => {
  const slots = createSlots(2);
  const a = await slots.acquire();
  const b = await slots.acquire();
  const order: string[] = [];
  const c = slots.acquire().then((r) => (order.push("c"), r));
  const d = slots.acquire().then((r) => (order.push("d"), r));
  await Bun.sleep(1);
  expect([slots.inUse, slots.waiting, order]).toEqual([2, 2, []]);
  a();
  a(); // ignored
  const releaseC = await c;
  expect([slots.inUse, slots.waiting, order]).toEqual([2, 1, ["c"]]);
  b();
  const releaseD = await d;
  expect(order).toEqual(["c", "d"]);
  releaseC();
  releaseD();
  expect([slots.inUse, slots.waiting]).toEqual([0, 0]);
  expect(() => createSlots(0)).toThrow(RangeError);
});
