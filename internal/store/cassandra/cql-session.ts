import { Client, errors, types, type QueryOptions } from "cassandra-driver";
import { BackendUnavailableError, createSlots } from "../../domain/index.ts";
import type { CassandraConsistency, CassandraStoreConfig } from "./cassandra-config.ts";

const BACKEND = "cassandra";

/** A CQL row as the driver returns it (columns by name). */
export type CqlRow = types.Row;
/** One statement of a batch. */
export interface CqlStatement {
  readonly query: string;
  readonly params: readonly unknown[];
}

/**
 * The one door to the driver for the store: every statement is prepared
 * (the driver caches the prepared id per query string and routes each
 * execution to a replica of its partition: token-aware by default), runs at
 * the configured consistency, and every failure leaves as the port's error.
 */
export interface CqlSession {
  /** Runs one statement and returns its first page of rows. */
  rows(op: string, query: string, params: readonly unknown[], options?: QueryOptions): Promise<CqlRow[]>;
  /** Runs one statement and pages through every row, `pageSize` at a time. */
  allRows(op: string, query: string, params: readonly unknown[], pageSize: number): Promise<CqlRow[]>;
  /**
   * One idempotent write, sent together with the other `write`s issued in the same turn of
   * the event loop as unlogged batches of at most MAX_COALESCED_WRITES statements and
   * MAX_COALESCED_BYTES of values: one request instead of one per statement (a statement
   * larger than that goes alone). The batch spans partitions, so its statements are applied
   * independently (no atomicity, no order between them); a failed batch rejects every write
   * in it.
   */
  write(op: string, query: string, params: readonly unknown[]): Promise<void>;
  close(): Promise<void>;
}

const CONSISTENCY: Record<CassandraConsistency, number> = {
  LOCAL_QUORUM: types.consistencies.localQuorum,
  QUORUM: types.consistencies.quorum,
  EACH_QUORUM: types.consistencies.eachQuorum,
  LOCAL_ONE: types.consistencies.localOne,
  ONE: types.consistencies.one,
  ALL: types.consistencies.all,
};

/** The driver client for `cfg`, not yet connected; `keyspace` undefined for keyspace DDL. */
export function createDriverClient(cfg: CassandraStoreConfig, keyspace: string | undefined): Client {
  return new Client({
    contactPoints: [...cfg.contactPoints],
    localDataCenter: cfg.localDataCenter,
    ...(keyspace !== undefined ? { keyspace } : {}),
    // Protocol v4: what Cassandra 5.0 and this driver agree on without the
    // v5 framing negotiation (see docs/infra.md).
    protocolOptions: { maxVersion: types.protocolVersion.v4 },
    socketOptions: { readTimeout: cfg.requestTimeoutMs ?? 12_000, connectTimeout: 5_000 },
    queryOptions: {
      consistency: CONSISTENCY[cfg.consistency],
      serialConsistency: types.consistencies.localSerial,
      prepare: true,
      // Every statement of the store is idempotent (rows are identical on
      // repeat, registers take the max by write timestamp), so the driver may
      // retry one after a timeout. The username claim (an LWT) opts out.
      isIdempotent: true,
    },
    monitorReporting: { enabled: false },
  });
}

/** Opens a session; rejects with BackendUnavailableError if no node answers. */
export async function openCqlSession(cfg: CassandraStoreConfig, keyspace: string | undefined): Promise<CqlSession> {
  const client = createDriverClient(cfg, keyspace);
  try {
    await client.connect();
  } catch (error) {
    await client.shutdown().catch(() => undefined);
    throw toPortError("connect", error);
  }
  return cqlSessionOver(client);
}

/**
 * Requests one session keeps in flight; the rest wait their turn. The driver refuses a request
 * once a connection carries 2,048 (BusyConnectionError) and opens one connection per host: a
 * worker catching up on a backlog starts thousands of reads at once (12 partitions x 500
 * records), and every refusal failed a whole batch, which was then retried, and refused again.
 */
export const MAX_IN_FLIGHT_REQUESTS = 1_024;

/**
 * Statements per coalesced batch: below Cassandra's unlogged_batch_across_partitions_warn_threshold
 * (10 partitions by default), so a batch never logs a warning.
 */
export const MAX_COALESCED_WRITES = 8;

/**
 * Bytes of values per coalesced batch: below Cassandra's batch_size_warn_threshold (5 KiB by
 * default; batch_size_fail_threshold, 50 KiB, refuses the batch). A statement whose values
 * alone exceed it goes out on its own.
 */
export const MAX_COALESCED_BYTES = 4 * 1024;

/** About what a statement's values weigh in a batch (its mutation's size). */
function valueBytes(params: readonly unknown[]): number {
  let bytes = 0;
  for (const p of params) {
    if (typeof p === "string") bytes += Buffer.byteLength(p);
    else if (p instanceof Uint8Array) bytes += p.byteLength;
    else bytes += 8;
  }
  return bytes;
}

interface QueuedWrite extends CqlStatement {
  readonly op: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** The session over a connected driver client (which it shuts down on close). */
export function cqlSessionOver(client: Client, maxInFlight = MAX_IN_FLIGHT_REQUESTS): CqlSession {
  let closed = false;
  let queued: QueuedWrite[] = [];
  const slots = createSlots(maxInFlight);
  /** Runs one driver request once fewer than maxInFlight are under way. */
  const inTurn = async <T>(request: () => Promise<T>): Promise<T> => {
    const release = await slots.acquire();
    try {
      return await request();
    } finally {
      release();
    }
  };

  const unloggedBatch = (statements: readonly CqlStatement[]) =>
    inTurn(() => client.batch(statements.map((s) => ({ query: s.query, params: [...s.params] })), { logged: false }));

  /** Sends what `write` queued during the last turn, in order, MAX_COALESCED_WRITES statements and MAX_COALESCED_BYTES per request. */
  const flushWrites = (): void => {
    const writes = queued;
    queued = [];
    let chunk: QueuedWrite[] = [];
    let bytes = 0;
    for (const w of writes) {
      const size = valueBytes(w.params);
      if (chunk.length > 0 && (chunk.length >= MAX_COALESCED_WRITES || bytes + size > MAX_COALESCED_BYTES)) {
        send(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(w);
      bytes += size;
    }
    if (chunk.length > 0) send(chunk);
  };
  const send = (chunk: readonly QueuedWrite[]): void => {
    const sent =
      chunk.length === 1 ? inTurn(() => client.execute(chunk[0]!.query, [...chunk[0]!.params])) : unloggedBatch(chunk);
    sent.then(
      () => {
        for (const w of chunk) w.resolve();
      },
      (error: unknown) => {
        for (const w of chunk) w.reject(toPortError(w.op, error));
      },
    );
  };
  const guard = async <T>(op: string, body: () => Promise<T>): Promise<T> => {
    if (closed) throw new BackendUnavailableError(BACKEND, `${op}: store is closed`);
    try {
      return await body();
    } catch (error) {
      throw toPortError(op, error);
    }
  };

  return {
    rows: (op, query, params, options) =>
      guard(op, async () => (await inTurn(() => client.execute(query, [...params], options))).rows),
    allRows: (op, query, params, pageSize) =>
      guard(op, async () => {
        const out: CqlRow[] = [];
        let pageState: string | undefined;
        // Bounded by the data: each page moves strictly forward in the partition.
        do {
          const page = pageState ? { pageState } : {};
          const rs = await inTurn(() => client.execute(query, [...params], { fetchSize: pageSize, ...page }));
          out.push(...rs.rows);
          pageState = rs.pageState ?? undefined;
        } while (pageState);
        return out;
      }),
    write: (op, query, params) => {
      if (closed) return Promise.reject(new BackendUnavailableError(BACKEND, `${op}: store is closed`));
      return new Promise<void>((resolve, reject) => {
        // setImmediate, not a microtask: callers reach their writes after a few awaits of cached
        // reads; everything issued before the loop polls again shares the flush.
        if (queued.length === 0) setImmediate(flushWrites);
        queued.push({ op, query, params, resolve, reject });
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.shutdown();
    },
  };
}

/** Response codes that mean "the cluster could not do it now", worth a retry. */
const TRANSIENT_CODES = new Set<number>([
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.truncateError,
  types.responseErrorCodes.writeTimeout,
  types.responseErrorCodes.readTimeout,
  types.responseErrorCodes.readFailure,
  types.responseErrorCodes.writeFailure,
]);

/**
 * Unreachable nodes, timeouts and overload become BackendUnavailableError
 * (the worker retries and does not commit offsets). Anything else (a CQL
 * syntax error, a missing table) is a bug or a deploy mistake and is thrown
 * as is, so it is not retried forever.
 */
export function toPortError(op: string, error: unknown): unknown {
  const transient =
    error instanceof errors.NoHostAvailableError ||
    error instanceof errors.OperationTimedOutError ||
    error instanceof errors.BusyConnectionError ||
    (error instanceof errors.ResponseError && TRANSIENT_CODES.has(error.code));
  if (!transient) return error;
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return new BackendUnavailableError(BACKEND, `${op}: ${message}`, { cause: error });
}

/** True for the server's "no such keyspace / table" answer: the schema is not there (yet). */
export function isSchemaMissing(error: unknown): boolean {
  return error instanceof errors.ResponseError && error.code === types.responseErrorCodes.invalid;
}
