import { expect, test } from "bun:test";
import { createSweep } from "./sweep.ts";

test("a sweep visits every entry each period, drops those it is told to, and stops when none is left", async () => {
  const visits: string[] = [];
  const sweep = createSweep<string, { rounds: number }>(20, (key, value) => {
    visits.push(key);
    return ++value.rounds >= (key === "short" ? 1 : 3);
  });
  sweep.set("short", { rounds: 0 });
  sweep.set("long", { rounds: 0 });
  sweep.set("gone", { rounds: 0 });
  sweep.delete("gone");
  await Bun.sleep(200);
  expect(visits.filter((k) => k === "short")).toHaveLength(1);
  expect(visits.filter((k) => k === "long")).toHaveLength(3);
  expect(visits).not.toContain("gone");
  // Stopped once empty; a new entry starts it again.
  const before = visits.length;
  sweep.set("again", { rounds: 0 });
  await Bun.sleep(200);
  expect(visits.slice(before)).toEqual(["again", "again", "again"]);
});
