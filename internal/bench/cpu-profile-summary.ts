import { readFileSync } from "node:fs";

/** One line of a profile summary: a share of all samples. */
export interface ProfileShare {
  readonly name: string;
  readonly percent: number;
}

/** Where a server spent its CPU, from a `bun --cpu-prof` .cpuprofile. */
export interface CpuProfileSummary {
  readonly file: string;
  readonly samples: number;
  /** By module: a package (connect-es, protobuf-es, ...), a project folder, or a runtime module. */
  readonly modules: readonly ProfileShare[];
  /** By JS function, with the time of the native code it called. */
  readonly functions: readonly ProfileShare[];
  /** By the nearest project function (internal/, cmd/) on the stack: what our code spent, libraries included. */
  readonly projectFunctions: readonly ProfileShare[];
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

const moduleOf = (url: string): string => {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  const own = /\/((?:internal|cmd)\/[^/]+|gen)\//.exec(url);
  if (own?.[1]) return own[1];
  const runtime = /^(node|bun|internal):([^/:]+)/.exec(url);
  return runtime ? `${runtime[1]}:${runtime[2]}` : url;
};

const top = (counts: Map<string, number>, total: number, n: number): ProfileShare[] =>
  [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, c]) => ({ name, percent: Math.round((c / total) * 1000) / 10 }));

/**
 * Summarizes a Chrome-format CPU profile. Native frames (SQLite's `run`, an
 * HTTP/2 `writeStream`) have no file, so their samples are charged to the
 * nearest caller that has one: "bun:sqlite" or "node:http2" then shows the
 * cost of those calls, and a project function includes the native work it did.
 */
export function summarizeCpuProfile(file: string, topN = 15): CpuProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[] };
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const modules = new Map<string, number>();
  const functions = new Map<string, number>();
  const projectFunctions = new Map<string, number>();
  const label = (frame: ProfileNode["callFrame"]): string =>
    `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*?\/(node_modules|internal|cmd)\//, "$1/")}:${frame.lineNumber + 1}`;
  let total = 0;
  for (const [id, count] of hits) {
    total += count;
    // Bounded walk up the tree: the first frame with a source location, then the first of ours.
    let located = false;
    let at: number | undefined = id;
    for (let depth = 0; at !== undefined && depth < 10_000; depth++) {
      const frame = nodes.get(at)?.callFrame;
      if (!located && frame?.url && frame.url !== "[native code]") {
        located = true;
        const mod = moduleOf(frame.url);
        modules.set(mod, (modules.get(mod) ?? 0) + count);
        functions.set(label(frame), (functions.get(label(frame)) ?? 0) + count);
      }
      if (frame && /\/work\/|^file:/.test(frame.url) && /\/(internal|cmd)\//.test(frame.url) && !frame.url.includes("node_modules")) {
        projectFunctions.set(label(frame), (projectFunctions.get(label(frame)) ?? 0) + count);
        break;
      }
      at = parent.get(at);
    }
  }
  return {
    file,
    samples: total,
    modules: top(modules, total, topN),
    functions: top(functions, total, topN),
    projectFunctions: top(projectFunctions, total, topN),
  };
}
