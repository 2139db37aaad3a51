/**
 * Sticky, balanced partition assignment for one consumer group.
 *
 * Every partition goes to exactly one live member, each member holds
 * floor(N/n) or ceil(N/n) partitions, and a partition stays with its current
 * owner whenever the balance allows: each move costs a pause (the in-flight
 * batch is awaited) and a redelivery of the uncommitted tail, so a membership
 * change should move as few partitions as it can.
 *
 * @param owners current owner per partition (undefined: unowned)
 * @param live members in join order; ties go to the earlier member
 * @returns the new owner per partition (all undefined when nobody is live)
 */
export function assignPartitions<M extends object>(
  owners: readonly (M | undefined)[],
  live: readonly M[],
): (M | undefined)[] {
  const partitionCount = owners.length;
  const next = new Array<M | undefined>(partitionCount).fill(undefined);
  if (live.length === 0) return next;

  const base = Math.floor(partitionCount / live.length);
  let extraSlots = partitionCount % live.length;
  const counts = new Map<M, number>(live.map((member) => [member, 0]));

  // Keep pass 1: everyone keeps up to `base`; pass 2: up to `extraSlots` members keep one more.
  for (const allowExtra of [false, true]) {
    for (let partition = 0; partition < partitionCount; partition++) {
      const owner = owners[partition];
      if (next[partition] !== undefined || owner === undefined) continue;
      const held = counts.get(owner);
      if (held === undefined) continue; // owner left the group
      if (held < base) {
        next[partition] = owner;
        counts.set(owner, held + 1);
      } else if (allowExtra && held === base && extraSlots > 0) {
        next[partition] = owner;
        counts.set(owner, held + 1);
        extraSlots--;
      }
    }
  }

  // Fill: each free partition to the least loaded member. Starting from counts <= base + 1,
  // this ends with every count at base or base + 1.
  for (let partition = 0; partition < partitionCount; partition++) {
    if (next[partition] !== undefined) continue;
    let target = live[0]!;
    for (const member of live) {
      if (counts.get(member)! < counts.get(target)!) target = member;
    }
    next[partition] = target;
    counts.set(target, counts.get(target)! + 1);
  }
  return next;
}
