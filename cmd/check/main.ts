/**
 * History checker: `bun cmd/check/main.ts --users 4 --devices 2 --messages 300
 * --duration-s 15 --fault-every-ms 300 --faults proxy,restart,server-restart --seed 1`;
 * with `--mode distributed`, against gateway and worker processes on the
 * real Kafka, Cassandra and Redis (docs/reliability.md).
 * Prints one summary line; exits 1 on any violation (printing the first
 * ones with their evidence), 2 on bad flags.
 */
import { parseCheckArgs, removeDataDir, runCheck } from "../../internal/checker/index.ts";

const shownViolations = 10;

const { config, problems } = parseCheckArgs(process.argv.slice(2));
if (problems.length > 0) {
  for (const p of problems) console.error(`check: ${p}`);
  process.exit(2);
}

const report = await runCheck(config, { progress: (line) => console.error(`check: ${line}`) });
console.log(report.summary);
const { verdict } = report;
if (!verdict.ok) {
  for (const v of verdict.violations.slice(0, shownViolations)) {
    console.log(`VIOLATION ${v.kind}: ${v.message}`);
    for (const line of v.evidence) console.log(`    ${line}`);
  }
  if (verdict.violations.length > shownViolations) console.log(`... and ${verdict.violations.length - shownViolations} more`);
  console.log(`data kept in ${report.dataDir}`);
  process.exit(1);
}
removeDataDir(report);
process.exit(0);
