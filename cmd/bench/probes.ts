import { formatCostLines, probeAppendCost, probeCqlRequestCost, probeWakeupCost } from "../../internal/bench/cost-probes.ts";

/**
 * `bun cmd/bench/probes.ts wakeup`, `... cql [host:port]` and `... append [host:port]`: the
 * per-wake-up and per-CQL-request CPU costs, and the Cassandra store's time per appended
 * message, that docs/benchmarks.md uses to explain the distributed figures (see
 * internal/bench/cost-probes.ts).
 */
const [probe, target] = process.argv.slice(2);
if (probe === "wakeup") {
  const lines = await probeWakeupCost({ roundTrips: 20_000, idleRoundTrips: 2_000, gapsMs: [1, 5] });
  console.log(formatCostLines("loopback ping-pong, CPU of this process per round trip:", lines));
} else if (probe === "cql") {
  const lines = await probeCqlRequestCost({
    contactPoint: target ?? "127.0.0.1:19042",
    localDataCenter: "datacenter1",
    requests: 6_000,
    concurrencies: [1, 10, 50],
  });
  console.log(formatCostLines("prepared CQL read, client CPU per request:", lines));
} else if (probe === "append") {
  const lines = await probeAppendCost({
    contactPoint: target ?? "127.0.0.1:19042",
    localDataCenter: "datacenter1",
    messages: 3_000,
    group: 10,
  });
  console.log(formatCostLines("Cassandra store appendMessage, per message:", lines));
} else {
  console.error("usage: bun cmd/bench/probes.ts wakeup | cql [host:port] | append [host:port]");
  process.exit(2);
}
