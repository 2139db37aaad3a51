import { afterAll, beforeAll, expect, test } from "bun:test";
import { Client, metrics, types } from "cassandra-driver";
import { BackendUnavailableError } from "../../domain/index.ts";
import { describeWithBackends } from "../../testkit/index.ts";
import { cqlSessionOver, MAX_COALESCED_BYTES, MAX_COALESCED_WRITES, MAX_IN_FLIGHT_REQUESTS, type CqlSession } from "./cql-session.ts";

/** Counts the responses the driver received: one per request, a batch being one. */
class CountingMetrics extends metrics.DefaultMetrics {
  answered = 0;
  override onResponse(latency: number[]): void {
    super.onResponse(latency);
    this.answered++;
  }
}

describeWithBackends("cql session", ["cassandra"], ({ cassandra }) => {
  const keyspace = `chat_test_cql_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const counted = new CountingMetrics();
  let session: CqlSession;

  beforeAll(async () => {
    const client = new Client({
      contactPoints: [...cassandra.contactPoints],
      localDataCenter: cassandra.localDataCenter,
      protocolOptions: { maxVersion: types.protocolVersion.v4 },
      // Not idempotent: the driver would retry a refused request itself and hide what these tests look at.
      queryOptions: { prepare: true },
      metrics: counted,
    });
    await client.connect();
    await client.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await client.execute(`CREATE TABLE ${keyspace}.kv (k text PRIMARY KEY, v int)`);
    await client.execute(`CREATE TABLE ${keyspace}.kt (k text PRIMARY KEY, t text)`);
    session = cqlSessionOver(client);
  }, 30_000);
  afterAll(async () => {
    await session.rows("drop", `DROP KEYSPACE IF EXISTS ${keyspace}`, []);
    await session.close();
  }, 30_000);

  const put = (k: string, v: number) => session.write("put", `INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?)`, [k, v]);
  const get = async (k: string) => (await session.rows("get", `SELECT v FROM ${keyspace}.kv WHERE k = ?`, [k]))[0]?.get("v");

  test("writes issued in one turn go out as unlogged batches of at most MAX_COALESCED_WRITES statements", async () => {
    await put("warm", 0); // prepares the statement
    const n = MAX_COALESCED_WRITES * 2 + 3;
    const before = counted.answered;
    await Promise.all(Array.from({ length: n }, (_, i) => put(`key-${i}`, i)));
    expect(counted.answered - before).toBe(Math.ceil(n / MAX_COALESCED_WRITES));
    for (let i = 0; i < n; i++) expect(await get(`key-${i}`)).toBe(i);
  });

  test("a batch holds at most MAX_COALESCED_BYTES of values; a larger statement goes alone", async () => {
    const putText = (k: string, t: string) => session.write("put", `INSERT INTO ${keyspace}.kt (k, t) VALUES (?, ?)`, [k, t]);
    await putText("warm", ""); // prepares the statement
    // Values of ~1,510 bytes: two fit in a batch's budget, a third does not.
    const third = "x".repeat(1_500);
    const big = "y".repeat(MAX_COALESCED_BYTES + 1);
    const before = counted.answered;
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => putText(`mid-${i}`, third)),
      putText("big", big),
      putText("small", "s"),
    ]);
    // 6 mid-sized in 3 batches, the big one alone, the small one alone after it (order is kept).
    expect(counted.answered - before).toBe(5);
    const text = async (k: string) => (await session.rows("get", `SELECT t FROM ${keyspace}.kt WHERE k = ?`, [k]))[0]?.get("t");
    expect(await text("big")).toBe(big);
    expect(await text("mid-5")).toBe(third);
    expect(await text("small")).toBe("s");
  });

  test("writes of later turns are separate requests; a single write is a plain statement", async () => {
    const before = counted.answered;
    await put("alone-1", 1);
    await put("alone-2", 2);
    expect(counted.answered - before).toBe(2);
    expect([await get("alone-1"), await get("alone-2")]).toEqual([1, 2]);
  });

  test("a failing statement rejects every write of its batch; the other batches still apply", async () => {
    const bad = session.write("bad", `INSERT INTO ${keyspace}.missing_table (k, v) VALUES (?, ?)`, ["x", 1]);
    const sameBatch = Array.from({ length: MAX_COALESCED_WRITES - 1 }, (_, i) => put(`doomed-${i}`, i));
    const nextBatch = put("next-batch", 7);
    const settled = await Promise.allSettled([bad, ...sameBatch, nextBatch]);
    expect(settled.slice(0, MAX_COALESCED_WRITES).every((s) => s.status === "rejected")).toBe(true);
    expect(settled[MAX_COALESCED_WRITES]!.status).toBe("fulfilled");
    expect(await get("next-batch")).toBe(7);
    expect(await get("doomed-0")).toBeUndefined();
  });

  test("more concurrent requests than a driver connection takes (2,048) all succeed: the rest wait their turn", async () => {
    const n = 5_000;
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        i % 2 === 0 ? get("key-1") : session.rows("local", "SELECT key FROM system.local WHERE key = ?", ["local"]),
      ),
    );
    const failed = results.filter((r) => r.status === "rejected");
    expect(failed.length === 0 ? "" : String((failed[0] as PromiseRejectedResult).reason)).toBe("");
    expect(MAX_IN_FLIGHT_REQUESTS).toBeLessThan(2_048);
  }, 60_000);

  test("a write after close is refused with BackendUnavailableError", async () => {
    const other = cqlSessionOver(
      new Client({ contactPoints: [...cassandra.contactPoints], localDataCenter: cassandra.localDataCenter }),
    );
    await other.close();
    await expect(other.write("late", `INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?)`, ["late", 1])).rejects.toBeInstanceOf(
      BackendUnavailableError,
    );
  });
});
