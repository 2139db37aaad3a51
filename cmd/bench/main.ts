import { writeFileSync } from "node:fs";
import { benchUsage, BenchUsageError, formatReport, parseBenchArgs, runBench } from "../../internal/bench/index.ts";

/**
 * `bun cmd/bench/main.ts --scenario steady --rate 2000 --duration 30s --mode embedded`:
 * the load generator (see internal/bench and docs/benchmarks.md). Prints a
 * table; `--out file.json` also writes the full report.
 */
const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(benchUsage);
  process.exit(0);
}
let options;
try {
  options = parseBenchArgs(argv);
} catch (err) {
  if (err instanceof BenchUsageError) {
    console.error(`${err.message}\n\n${benchUsage}`);
    process.exit(2);
  }
  throw err;
}
const quiet = options.quiet;
const command = `bun cmd/bench/main.ts ${argv.join(" ")}`;
const report = await runBench(options, command, (line) => {
  if (!quiet) console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
});
console.log(formatReport(report));
if (options.out) {
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report written to ${options.out}`);
}
// Idle HTTP/2 sessions of the devices would keep the process alive for seconds.
process.exit(0);
