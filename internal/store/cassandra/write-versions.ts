/**
 * Write timestamps as versions: how the store stays monotonic under racing
 * writers without a lightweight transaction or a read-modify-write.
 *
 * Cassandra keeps, for every cell, the value with the highest write
 * timestamp, on every replica and through every compaction (on a timestamp
 * tie, the greater value). Writes set that timestamp explicitly
 * (`USING TIMESTAMP ?`) instead of letting the coordinator use the clock:
 *
 * - A monotonic register (watermark, device cursor, list head) is written
 *   with timestamp = its value (`maxWins`). The cell then holds the maximum
 *   value ever written, whatever order the writes arrive in. A zombie owner
 *   replaying old records after the real owner moved on writes a lower
 *   timestamp, so its write loses, even if it lands last. A read-modify-write
 *   "max" would not survive that race: the slow writer reads 10, the fast one
 *   writes 40, the slow one writes max(10, 20) = 20 and wins on the clock.
 *   Several cells written by one statement (the list head: seq, activity time
 *   and the last message's fields) share the timestamp, so they always come
 *   from the same message. Equal timestamps carry equal values (the value is
 *   the timestamp, or the head message is the same log record), so a tie is
 *   never a conflict.
 * - A "first one wins" record (dedup, conversation creation, device
 *   registration) is written with timestamp = BASE - value (`firstWins`):
 *   the lowest seq or earliest creation time wins, like SQLite's
 *   ON CONFLICT DO NOTHING, again in any arrival order.
 * - Message rows use `maxWins(seq)`: a replay writes the same cells with the
 *   same timestamps, byte-identical down to the write time.
 *
 * Rules that keep this sound (see docs/cassandra.md):
 * - every write to these tables goes through a versioned statement; a plain
 *   write would carry a wall-clock timestamp (~1.7e15 us) and shadow values
 *   for a long time;
 * - a delete must use `USING TIMESTAMP` >= DELETE_TIMESTAMP so it shadows
 *   every versioned write;
 * - Cassandra's timestamp guardrails (`minimum/maximum_timestamp_*_threshold`,
 *   off by default) must stay off for this keyspace.
 */

/** Values are seqs or epoch milliseconds: non-negative integers below 2^53. */
const LIMIT = 2 ** 53;

/** Above every timestamp this module hands out. */
export const DELETE_TIMESTAMP = LIMIT;

/** Timestamp under which the highest `value` wins. */
export function maxWins(value: number): number {
  return checked(value);
}

/**
 * Timestamp under which the lowest `value` wins. It shares the range of
 * maxWins (a cell only ever gets one kind), which keeps every timestamp an
 * exact double: above 2^53 adjacent values would round to the same one.
 */
export function firstWins(value: number): number {
  return LIMIT - 1 - checked(value);
}

function checked(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`versioned value must be an integer in [0, 2^53), got ${value}`);
  }
  return value;
}
