import type { Seq } from "../domain/index.ts";

/**
 * Width of a message bucket in seq units. Messages are partitioned by
 * `(conversation_id, bucket)` with `bucket = floor(seq / BUCKET_SPAN)`
 * (DESIGN §7), in Cassandra and in the SQLite mirror alike.
 *
 * Why 2^14: a seq is a position in the conversation's *log partition*, shared
 * with every other conversation hashed there and with receipt records, so
 * seqs of one conversation are sparse and a time-based or count-based bucket
 * cannot be derived from the seq alone. What a span of seqs does bound is the
 * row count: one bucket can never hold more than BUCKET_SPAN messages of a
 * conversation, reached only if the conversation had its log partition to
 * itself. 16,384 rows of bodies capped at a few KiB keeps the worst case
 * partition in the tens of MiB, under Cassandra's ~100 MiB guidance, while a
 * busy conversation's recent window still lands in one or two buckets.
 *
 * The cost of sparseness is empty buckets: a quiet conversation in a busy
 * partition skips many of them between two messages. Readers must not scan
 * buckets one by one going backwards; they jump to `bucketOf(prevSeq)` of the
 * oldest message read so far (prev_seq links every message to its
 * predecessor), so each bucket read returns at least one message.
 */
export const BUCKET_SPAN = 16_384;

/** The bucket that holds `seq`. Monotonic: a higher seq never has a lower bucket. */
export function bucketOf(seq: Seq): number {
  return Math.floor(seq / BUCKET_SPAN);
}

/** The lowest seq stored in `bucket`. */
export function firstSeqOf(bucket: number): Seq {
  return bucket * BUCKET_SPAN;
}
