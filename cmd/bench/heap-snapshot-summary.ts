import { readFileSync } from "node:fs";

/**
 * `bun cmd/bench/heap-snapshot-summary.ts heap-1.snapshot.json 2000`: what a
 * JSC heap snapshot (Bun.generateHeapSnapshot, as cmd/bench/heap-server.ts
 * writes it with HEAP_SNAPSHOT=1) holds per connection, for a server holding
 * N idle connections. Prints, divided by N: count and bytes per class, the
 * closure scopes seen at least N/2 times (by the variables they capture), and
 * the plain objects seen at least N/2 times (by their property names and what
 * holds them). Code and other one-off objects divide to small numbers; what a
 * connection holds shows as counts near 1, 2, 3... This is how
 * docs/benchmarks.md, "Fourth pass", found what an idle stream kept.
 */
interface Snapshot {
  nodes: number[]; // [id, size, classNameIndex, flags] per node
  nodeClassNames: string[];
  edges: number[]; // [fromId, toId, edgeTypeIndex, nameOrIndex] per edge
  edgeTypes: string[];
  edgeNames: string[];
}

const [file, perArg] = process.argv.slice(2);
const per = Number(perArg);
if (!file || !Number.isInteger(per) || per <= 0) {
  console.error("usage: bun cmd/bench/heap-snapshot-summary.ts SNAPSHOT.json CONNECTIONS");
  process.exit(2);
}
const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;

const size = new Map<number, number>();
const kind = new Map<number, string>();
for (let i = 0; i < snap.nodes.length; i += 4) {
  size.set(snap.nodes[i]!, snap.nodes[i + 1]!);
  kind.set(snap.nodes[i]!, snap.nodeClassNames[snap.nodes[i + 2]!]!);
}
/** Named edges (properties and captured variables) out of each node, and who holds each node. */
const named = new Map<number, { type: string; name: string }[]>();
const holders = new Map<number, { name: string; from: number }[]>();
for (let i = 0; i < snap.edges.length; i += 4) {
  const [from, to, typeIndex, nameIndex] = [snap.edges[i]!, snap.edges[i + 1]!, snap.edges[i + 2]!, snap.edges[i + 3]!];
  const type = snap.edgeTypes[typeIndex]!;
  if (type !== "Property" && type !== "Variable") continue;
  const name = snap.edgeNames[nameIndex]!;
  (named.get(from) ?? named.set(from, []).get(from)!).push({ type, name });
  (holders.get(to) ?? holders.set(to, []).get(to)!).push({ name, from });
}
const namesOf = (id: number, type: string) =>
  (named.get(id) ?? []).filter((e) => e.type === type).map((e) => e.name).sort().slice(0, 8).join(",");

function table(title: string, rows: Map<string, { count: number; bytes: number }>, minCount: number, limit: number): void {
  console.log(`\n${title}\n${"per conn".padStart(8)} ${"bytes".padStart(8)}  what`);
  [...rows]
    .filter(([, v]) => v.count >= minCount)
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, limit)
    .forEach(([k, v]) => console.log(`${(v.count / per).toFixed(2).padStart(8)} ${(v.bytes / per).toFixed(0).padStart(8)}  ${k}`));
}
const add = (m: Map<string, { count: number; bytes: number }>, key: string, bytes: number) => {
  const row = m.get(key) ?? m.set(key, { count: 0, bytes: 0 }).get(key)!;
  row.count++;
  row.bytes += bytes;
};

const byClass = new Map<string, { count: number; bytes: number }>();
const scopes = new Map<string, { count: number; bytes: number }>();
const objects = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (const [id, cls] of kind) {
  const bytes = size.get(id)!;
  total += bytes;
  add(byClass, cls, bytes);
  if (cls === "JSLexicalEnvironment") add(scopes, `{${namesOf(id, "Variable")}}`, bytes);
  if (cls === "Object") {
    const heldBy = [...new Set((holders.get(id) ?? []).map((h) => `${kind.get(h.from)}.${h.name}`))].sort().slice(0, 2).join(" ");
    add(objects, `{${namesOf(id, "Property")}} held by ${heldBy || "(internal)"}`, bytes);
  }
}
console.log(`${file}: ${(total / 1024 / 1024).toFixed(1)} MiB in ${kind.size} cells; ${(total / per / 1024).toFixed(2)} KiB per connection for ${per}`);
table("by class", byClass, 0, 30);
table("closure scopes seen at least N/2 times (captured variables)", scopes, per / 2, 30);
table("plain objects seen at least N/2 times (properties, holder)", objects, per / 2, 40);
