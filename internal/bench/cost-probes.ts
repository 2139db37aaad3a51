import { connect, type Socket } from "node:net";
import { Client, types } from "cassandra-driver";
import pino from "pino";
import { createCassandraStore } from "../store/cassandra/index.ts";
import { messageAt, newConversation } from "../store/store-fixture.ts";

/**
 * Small measurements behind the distributed figures in docs/benchmarks.md:
 * what one wake-up of an idle process costs on this machine, what one CQL
 * request costs the client, and how long the Cassandra store takes to append
 * a message. CPU is of this process only, from process.cpuUsage, over bounded
 * loops on loopback.
 */

/** CPU of this process per iteration, in microseconds. */
export interface CostLine {
  readonly label: string;
  readonly iterations: number;
  readonly wallUs: number;
  readonly cpuUs: number;
  readonly userUs: number;
  readonly systemUs: number;
}

async function measure(label: string, iterations: number, body: () => Promise<void>): Promise<CostLine> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const cpu = process.cpuUsage(cpu0);
  return {
    label,
    iterations,
    wallUs: ((performance.now() - t0) * 1000) / iterations,
    cpuUs: (cpu.user + cpu.system) / iterations,
    userUs: cpu.user / iterations,
    systemUs: cpu.system / iterations,
  };
}

/**
 * A 64-byte ping-pong with an echo server in a child process, one message in
 * flight, first back to back, then with the process idle for `gapMs` between
 * round trips: the difference is what going idle and waking up again costs
 * (each idle round trip is two wake-ups: the timer and the reply).
 */
export async function probeWakeupCost(opts: { roundTrips: number; idleRoundTrips: number; gapsMs: readonly number[] }): Promise<CostLine[]> {
  const echo = Bun.spawn([process.execPath, "-e", ECHO_SERVER], { stdout: "pipe", stderr: "inherit" });
  try {
    const port = Number(await firstLine(echo));
    const socket = await connected(port);
    const payload = Buffer.alloc(64, 1);
    const roundTrip = () =>
      new Promise<void>((resolve) => {
        socket.once("data", () => resolve());
        socket.write(payload);
      });
    const lines = [
      await measure("back to back", opts.roundTrips, async () => {
        for (let i = 0; i < opts.roundTrips; i++) await roundTrip();
      }),
    ];
    for (const gapMs of opts.gapsMs) {
      lines.push(
        await measure(`idle ${gapMs} ms between`, opts.idleRoundTrips, async () => {
          for (let i = 0; i < opts.idleRoundTrips; i++) {
            await roundTrip();
            await Bun.sleep(gapMs);
          }
        }),
      );
    }
    socket.destroy();
    return lines;
  } finally {
    echo.kill();
  }
}

/** The echo server's source: prints its port, then echoes every chunk. */
const ECHO_SERVER = `
const server = require("node:net").createServer((s) => s.on("data", (d) => s.write(d)));
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

async function firstLine(child: { stdout: ReadableStream<Uint8Array> }): Promise<string> {
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return new TextDecoder().decode(value).trim();
}

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

/**
 * A prepared single-row read of system.local, `requests` times at each
 * concurrency: the client's CPU per request, which is what the worker pays
 * per statement whatever the statement does on the server.
 */
export async function probeCqlRequestCost(opts: {
  contactPoint: string;
  localDataCenter: string;
  requests: number;
  concurrencies: readonly number[];
}): Promise<CostLine[]> {
  const client = new Client({
    contactPoints: [opts.contactPoint],
    localDataCenter: opts.localDataCenter,
    protocolOptions: { maxVersion: types.protocolVersion.v4 },
  });
  await client.connect();
  try {
    const query = "SELECT release_version FROM system.local WHERE key = ?";
    const once = () => client.execute(query, ["local"], { prepare: true });
    for (let i = 0; i < 500; i++) await once(); // prepares, warms the JIT
    const lines: CostLine[] = [];
    for (const concurrency of opts.concurrencies) {
      lines.push(
        await measure(`concurrency ${concurrency}`, opts.requests, async () => {
          for (let done = 0; done < opts.requests; done += concurrency) {
            await Promise.all(Array.from({ length: Math.min(concurrency, opts.requests - done) }, once));
          }
        }),
      );
    }
    return lines;
  } finally {
    await client.shutdown();
  }
}

/**
 * appendMessage of the Cassandra store, timed end to end: `messages` appends one at a time
 * (a worker's batch of one send), then the same number in groups of `group` conversations
 * at once (a batch of several partitions' sends). Wall time per append is the store's share
 * of the way from the log to the push; client CPU comes along. Uses a fresh keyspace.
 */
export async function probeAppendCost(opts: {
  contactPoint: string;
  localDataCenter: string;
  messages: number;
  group: number;
}): Promise<CostLine[]> {
  const keyspace = `probe_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const store = await createCassandraStore(
    {
      contactPoints: [opts.contactPoint],
      localDataCenter: opts.localDataCenter,
      keyspace,
      replicationFactor: 1,
      consistency: "LOCAL_QUORUM",
      migrate: true,
    },
    { logger: pino({ level: "silent" }) },
  );
  const conversations = Array.from({ length: opts.group }, () => newConversation().conversation);
  const seqs = new Map(conversations.map((c) => [c.id, 0]));
  const append = (i: number) => {
    const c = conversations[i % conversations.length]!;
    const prev = seqs.get(c.id)!;
    seqs.set(c.id, prev + 1);
    return store.appendMessage(messageAt(c, prev + 1, prev, prev % 2 === 0 ? c.userA : c.userB));
  };
  try {
    for (const c of conversations) await store.ensureConversation(c);
    for (let i = 0; i < Math.min(300, opts.messages); i++) await append(i); // prepares, warms the JIT
    const one = await measure("one at a time", opts.messages, async () => {
      for (let i = 0; i < opts.messages; i++) await append(i);
    });
    const grouped = await measure(`${opts.group} at once`, opts.messages, async () => {
      for (let i = 0; i < opts.messages; i += opts.group) {
        await Promise.all(Array.from({ length: Math.min(opts.group, opts.messages - i) }, (_, k) => append(i + k)));
      }
    });
    return [one, grouped];
  } finally {
    await store.close();
    const admin = new Client({ contactPoints: [opts.contactPoint], localDataCenter: opts.localDataCenter });
    await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).finally(() => admin.shutdown());
  }
}

export function formatCostLines(title: string, lines: readonly CostLine[]): string {
  const rows = lines.map(
    (l) =>
      `  ${l.label.padEnd(24)} ${l.wallUs.toFixed(0).padStart(7)} us wall  ${l.cpuUs.toFixed(1).padStart(7)} us CPU ` +
      `(user ${l.userUs.toFixed(1)}, system ${l.systemUs.toFixed(1)})  x${l.iterations}`,
  );
  return [title, ...rows].join("\n");
}
