import pino from "pino";
import { asDeviceId, asUserId, conversationIdFor, type Conversation, type StoredMessage } from "../../domain/index.ts";
import { createCassandraStore, migrateCassandra, type CassandraStoreConfig } from "./index.ts";
import { createDriverClient } from "./cql-session.ts";

/**
 * appendMessage throughput against a real Cassandra, reported in docs/cassandra.md:
 *
 *   bun internal/store/cassandra/append-benchmark.ts [total=10000] [inFlight=1000] [conversations=200]
 *
 * (CHAT_TEST_CASSANDRA=host:port, default 127.0.0.1:19042). Works in a fresh
 * keyspace, dropped at the end. Messages go out in waves of `inFlight`
 * concurrent appends (a worker appending a log batch with Promise.all),
 * round-robin over the conversations, with seqs shared like log positions.
 */
async function main(): Promise<void> {
  const [total = 10_000, inFlight = 1_000, conversationCount = 200] = process.argv.slice(2).map(Number);
  const cfg: CassandraStoreConfig = {
    contactPoints: (process.env.CHAT_TEST_CASSANDRA ?? "127.0.0.1:19042").split(","),
    localDataCenter: "datacenter1",
    keyspace: `chat_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`,
    replicationFactor: 1,
    consistency: "LOCAL_QUORUM",
  };
  const logger = pino({ level: "warn" });
  await migrateCassandra(cfg, { logger });
  const store = await createCassandraStore(cfg, { logger });
  const admin = createDriverClient(cfg, undefined);
  try {
    const conversations: Conversation[] = Array.from({ length: conversationCount }, (_, i) => {
      const [userA, userB] = [asUserId(`bench_a_${i}`), asUserId(`bench_b_${i}`)];
      return { id: conversationIdFor(userA, userB), userA, userB, createdAtMs: 1_000 };
    });
    for (const c of conversations) await store.ensureConversation(c);

    const last = new Map<string, number>();
    let seq = 0;
    const next = (): StoredMessage => {
      const c = conversations[seq % conversations.length]!;
      seq += 1;
      const prevSeq = last.get(c.id) ?? 0;
      last.set(c.id, seq);
      const sender = seq % 2 === 0 ? c.userA : c.userB;
      return {
        conversationId: c.id,
        seq,
        prevSeq,
        senderUserId: sender,
        senderDeviceId: asDeviceId(`${sender}/phone`),
        clientMsgId: crypto.randomUUID(),
        text: `benchmark message ${seq} `.padEnd(120, "x"),
        sentAtMs: 1_700_000_000_000 + seq,
      };
    };

    // Warm-up: prepares every statement and opens the connections.
    await Promise.all(Array.from({ length: 200 }, () => store.appendMessage(next())));

    const latenciesMs: number[] = [];
    const started = performance.now();
    for (let sent = 0; sent < total; sent += inFlight) {
      const wave = Array.from({ length: Math.min(inFlight, total - sent) }, next);
      await Promise.all(
        wave.map(async (m) => {
          const t0 = performance.now();
          await store.appendMessage(m);
          latenciesMs.push(performance.now() - t0);
        }),
      );
    }
    const seconds = (performance.now() - started) / 1_000;
    latenciesMs.sort((x, y) => x - y);
    const pct = (p: number) =>
      (latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(p * latenciesMs.length))] ?? 0).toFixed(1);
    console.log(
      `appendMessage: ${total} messages in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} msg/s ` +
        `(${inFlight} in flight, ${conversationCount} conversations; ` +
        `per append p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms)`,
    );
  } finally {
    await store.close();
    await admin.connect();
    await admin.execute(`DROP KEYSPACE IF EXISTS ${cfg.keyspace}`);
    await admin.shutdown();
  }
}

await main();
