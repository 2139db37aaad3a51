import type { Seq } from "../domain/index.ts";
import type { LogPosition } from "../log/index.ts";

/**
 * The log is the sequencer (DESIGN §4): a message's seq is its position in
 * its partition, prefixed by the topic generation so that seqs keep rising if
 * the topic is ever rebuilt. A conversation lives in exactly one partition, so
 * its seqs strictly increase; they are not dense, which is why every message
 * carries prev_seq.
 *
 * seq = generation * 2^40 + offset + 1. 2^40 offsets per partition and
 * generations below 2^13 keep every seq under 2^53 (exact as a JS number).
 */
export const GENERATION_SPAN = 2 ** 40;
export const MAX_GENERATION = 2 ** 13 - 1;

export function seqOf(position: LogPosition, generation: number): Seq {
  if (position.offset >= GENERATION_SPAN - 1) throw new RangeError("partition offset exceeds the seq space");
  return generation * GENERATION_SPAN + position.offset + 1;
}
