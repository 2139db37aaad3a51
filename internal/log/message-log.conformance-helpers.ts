import { expect } from "bun:test";
import type { LogAppend, LogBatch, LogPosition, LogRecord, MessageLog } from "./message-log.ts";

/*
 * Test-side helpers of describeMessageLog: a scripted group member, record
 * generators and bounded waits. Only message-log.conformance.ts uses them.
 */

const WAIT_MS = 5_000;

/** A consumer-group member driven by a test. */
export interface TestMember {
  readonly controller: AbortController;
  /** The member's consume() promise. */
  readonly done: Promise<void>;
  /** Partitions currently assigned, per onAssigned/onRevoked. */
  readonly owned: Set<number>;
  /** Every handler call, including failed and unfinished ones. */
  readonly calls: LogBatch[];
  /** Records of batches whose handler resolved. */
  readonly received: LogRecord[];
  /** Aborts the member and waits for consume() to resolve. */
  stop(): Promise<void>;
}

/** What a member's handler does with a batch before it counts as received; throw to fail it. */
export type Behaviour = (batch: LogBatch) => Promise<void>;

/** Joins `groupId` as `memberId`, recording calls, received records and assignments. */
export function startMember(
  log: MessageLog,
  groupId: string,
  memberId: string,
  behaviour: Behaviour = async () => {},
  maxBatchRecords?: number,
): TestMember {
  const controller = new AbortController();
  const owned = new Set<number>();
  const calls: LogBatch[] = [];
  const received: LogRecord[] = [];
  const done = log.consume(
    {
      groupId,
      memberId,
      maxBatchRecords,
      handler: async (batch) => {
        calls.push(batch);
        await behaviour(batch);
        received.push(...batch.records);
      },
      onAssigned: (partitions) => partitions.forEach((partition) => owned.add(partition)),
      onRevoked: (partitions) => partitions.forEach((partition) => owned.delete(partition)),
    },
    controller.signal,
  );
  return {
    controller,
    done,
    owned,
    calls,
    received,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

/** Two keys per partition, so that every case touches every partition. */
export function coveringKeys(log: MessageLog): string[] {
  const perPartition = Array.from({ length: log.partitionCount }, () => [] as string[]);
  let missing = log.partitionCount * 2;
  for (let i = 0; i < 100_000 && missing > 0; i++) {
    const key = `conversation-${i}`;
    const list = perPartition[log.partitionOf(key)]!;
    if (list.length < 2) {
      list.push(key);
      missing--;
    }
  }
  if (missing > 0) throw new Error("partitionOf leaves some partition without keys");
  return perPartition.flat();
}

/** `count` records cycling over `keys`, values `${label}-${i}`. */
export function records(keys: readonly string[], count: number, label: string): LogAppend[] {
  return Array.from({ length: count }, (_, i) => ({ key: keys[i % keys.length]!, value: bytes(`${label}-${i}`) }));
}

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A record's identity: its position. */
export function id(position: LogPosition): string {
  return `${position.partition}:${position.offset}`;
}

/** True when the members together received every one of `positions`. */
export function covers(members: readonly TestMember[], positions: readonly LogPosition[]): boolean {
  const seen = new Set(members.flatMap((member) => member.received.map(id)));
  return positions.every((position) => seen.has(id(position)));
}

/** True when every member owns some partitions and each partition has exactly one owner. */
export function isSplit(log: MessageLog, group: readonly TestMember[]): boolean {
  const owned = group.flatMap((member) => [...member.owned]);
  return (
    group.every((member) => member.owned.size > 0) &&
    owned.length === log.partitionCount &&
    new Set(owned).size === log.partitionCount
  );
}

/** Asserts offsets strictly increase within each partition, in sequence order. */
export function expectIncreasingPerPartition(positions: readonly LogPosition[]): void {
  const last = new Map<number, number>();
  for (const position of positions) {
    expect(position.offset).toBeGreaterThan(last.get(position.partition) ?? -1);
    last.set(position.partition, position.offset);
  }
}

/** Polls `condition` every 10 ms; throws naming `what` after WAIT_MS. */
export async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting until ${what}`);
    await sleep(10);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
