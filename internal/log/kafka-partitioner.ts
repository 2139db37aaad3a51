/**
 * Key -> partition, the way Kafka's default partitioner does it:
 * `(murmur2(utf8(key)) & 0x7fffffff) % partitionCount`.
 *
 * Matching Kafka (rather than any stable hash) means a conversation lands in
 * the same partition number whether the embedded log or a Kafka/Redpanda topic
 * with the same partition count is in use, so switching adapters or comparing
 * traces across them needs no translation. Both adapters use this module: the
 * Kafka adapter computes the partition itself and produces to it explicitly,
 * so its `partitionOf` cannot drift from where the records really go.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length - (length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) | 0;
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The 1-3 trailing bytes, folded in like the fall-through switch in the Java original.
  const tail = length - whole;
  if (tail >= 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Returns `partitionOf(key)` for a topic of `partitionCount` partitions. */
export function createKafkaPartitioner(partitionCount: number): (key: string) => number {
  const encoder = new TextEncoder();
  return (key) => (murmur2(encoder.encode(key)) & 0x7fffffff) % partitionCount;
}
