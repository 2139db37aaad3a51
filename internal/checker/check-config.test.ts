import { expect, test } from "bun:test";
import { distributedFaultKinds, faultKinds, parseCheckArgs } from "./index.ts";

test.each([
  { argv: [], mode: "embedded", faults: faultKinds },
  { argv: ["--mode", "distributed"], mode: "distributed", faults: distributedFaultKinds },
  { argv: ["--mode=distributed", "--faults", "worker-kill,proxy"], mode: "distributed", faults: ["worker-kill", "proxy"] },
  { argv: ["--faults", "none"], mode: "embedded", faults: [] },
])("without --faults each mode injects every kind it supports: $argv", ({ argv, mode, faults }) => {
  const { config, problems } = parseCheckArgs(argv);
  expect(problems).toEqual([]);
  expect(config.mode).toBe(mode as never);
  expect(config.faults).toEqual(faults as never);
});

test.each([
  { argv: ["--faults", "gateway-kill"], problem: "--faults: gateway-kill cannot be injected in embedded mode" },
  { argv: ["--mode", "distributed", "--faults", "server-crash"], problem: "--faults: server-crash cannot be injected in distributed mode" },
  { argv: ["--mode", "cluster"], problem: "--mode must be embedded or distributed" },
  { argv: ["--fault-order", "sorted"], problem: "--fault-order must be random or cycle" },
  { argv: ["--gateways", "1"], problem: "--gateways must be an integer in [2, 8]" },
])("refuses $argv", ({ argv, problem }) => {
  const { problems } = parseCheckArgs(argv);
  expect(problems.some((p) => p.startsWith(problem))).toBe(true);
});

test("distributed settings parse into the config", () => {
  const { config, problems } = parseCheckArgs(
    ["--mode", "distributed", "--gateways", "3", "--workers", "1", "--partitions", "4", "--max-process-down-ms", "500", "--fault-order", "cycle"],
  );
  expect(problems).toEqual([]);
  expect([config.gateways, config.workers, config.partitions, config.maxProcessDownMs, config.faultOrder]).toEqual([3, 1, 4, 500, "cycle"]);
});
