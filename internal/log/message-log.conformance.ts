import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { BackendUnavailableError } from "../domain/index.ts";
import type { LogPosition, MessageLog } from "./message-log.ts";
import {
  type Behaviour,
  bytes,
  covers,
  coveringKeys,
  expectIncreasingPerPartition,
  id,
  isSplit,
  records,
  sleep,
  startMember,
  type TestMember,
  waitFor,
} from "./message-log.conformance-helpers.ts";

/** What an adapter's test file hands to describeMessageLog for each case. */
export interface MessageLogFixture {
  /** A fresh, empty log with at least 2 partitions. */
  readonly log: MessageLog;
  /**
   * Opens a new MessageLog over the same durable storage, after the suite
   * closed the previous one. Omit it for storage that does not survive a close.
   */
  readonly reopen?: () => Promise<MessageLog>;
  /** Closes every log the fixture opened (the suite may have closed some already) and removes its storage. */
  readonly cleanup: () => Promise<void>;
}

const CASE_TIMEOUT_MS = 30_000;

/**
 * The `messages` log contract (see message-log.ts), run against any adapter.
 * Assumes a group with no committed offset starts at the beginning of each partition.
 */
export function describeMessageLog(name: string, make: () => Promise<MessageLogFixture>): void {
  describe(`MessageLog conformance: ${name}`, () => {
    let fixture: MessageLogFixture;
    let members: TestMember[];

    beforeEach(async () => {
      fixture = await make();
      members = [];
    });
    afterEach(async () => {
      await Promise.all(members.map((member) => member.stop()));
      await fixture.cleanup();
    });

    function join(log: MessageLog, groupId: string, memberId: string, behaviour?: Behaviour, maxBatchRecords?: number) {
      const member = startMember(log, groupId, memberId, behaviour, maxBatchRecords);
      members.push(member);
      return member;
    }

    test("maps a key to the same partition every time, within range, and appends it there", async () => {
      const { log } = fixture;
      expect(log.partitionCount).toBeGreaterThanOrEqual(2);
      const keys = Array.from({ length: 100 }, (_, i) => `conversation-${i}`);
      for (const key of keys) {
        const partition = log.partitionOf(key);
        expect(Number.isInteger(partition)).toBe(true);
        expect(partition).toBeGreaterThanOrEqual(0);
        expect(partition).toBeLessThan(log.partitionCount);
        expect(log.partitionOf(key)).toBe(partition);
      }
      const positions = await log.append(keys.map((key) => ({ key, value: bytes(key) })));
      expect(positions.map((position) => position.partition)).toEqual(keys.map((key) => log.partitionOf(key)));
    }, CASE_TIMEOUT_MS);

    test("returns positions in input order, offsets strictly increasing per partition", async () => {
      const { log } = fixture;
      const keys = coveringKeys(log);
      const positions: LogPosition[] = [];
      positions.push(...(await log.append(records(keys, 40, "batch"))));
      for (let i = 0; i < 5; i++) positions.push(...(await log.append(records(keys, 3, `single-${i}`))));
      expectIncreasingPerPartition(positions);
      const concurrent = (await Promise.all(keys.map((key) => log.append([{ key, value: bytes("c") }])))).flat();
      expect(concurrent.map((position) => position.partition)).toEqual(keys.map((key) => log.partitionOf(key)));
      expect(new Set([...positions, ...concurrent].map(id)).size).toBe(positions.length + concurrent.length);
    }, CASE_TIMEOUT_MS);

    test("delivers every record once, in offset order, in non-empty bounded batches", async () => {
      const { log } = fixture;
      const appended = records(coveringKeys(log), 120, "r");
      const positions = await log.append(appended);
      const member = join(log, "g", "m1", undefined, 7);
      await waitFor("all records received", () => member.received.length >= positions.length);
      expect(member.received.map(id).sort()).toEqual(positions.map(id).sort());
      expectIncreasingPerPartition(member.received);
      for (const batch of member.calls) {
        expect(batch.records.length).toBeGreaterThan(0);
        expect(batch.records.length).toBeLessThanOrEqual(7);
        expect(batch.records.every((record) => record.partition === batch.partition)).toBe(true);
      }
      const byId = new Map(positions.map((position, i) => [id(position), appended[i]!]));
      for (const record of member.received) {
        expect(record.key).toBe(byId.get(id(record))!.key);
        expect(Array.from(record.value)).toEqual(Array.from(byId.get(id(record))!.value));
      }
    }, CASE_TIMEOUT_MS);

    test("splits a group's partitions between its members, each record to one of them", async () => {
      const { log } = fixture;
      const a = join(log, "g", "a");
      const b = join(log, "g", "b");
      await waitFor("partitions split", () => isSplit(log, [a, b]));
      const positions = await log.append(records(coveringKeys(log), 80, "r"));
      await waitFor("all records received", () => a.received.length + b.received.length >= positions.length);
      expect([...a.received, ...b.received].map(id).sort()).toEqual(positions.map(id).sort());
      expect(a.received.every((record) => a.owned.has(record.partition))).toBe(true);
      expect(b.received.every((record) => b.owned.has(record.partition))).toBe(true);
    }, CASE_TIMEOUT_MS);

    test("hands a leaving member's partitions to the rest, which resume at its committed offset", async () => {
      const { log } = fixture;
      const keys = coveringKeys(log);
      const a = join(log, "g", "a");
      const b = join(log, "g", "b");
      await waitFor("partitions split", () => isSplit(log, [a, b]));
      const first = await log.append(records(keys, 40, "first"));
      await waitFor("first wave received", () => covers([a, b], first));
      const handledByB = new Set(b.received.map(id));
      await b.stop();
      // Appended before a necessarily owns b's partitions: a new owner starting at the log end would skip them.
      const second = await log.append(records(keys, 40, "second"));
      await waitFor("a owns every partition", () => a.owned.size === log.partitionCount);
      const third = await log.append(records(keys, 40, "third"));
      await waitFor("a received the second and third waves", () => covers([a], [...second, ...third]));
      expectIncreasingPerPartition(a.received);
      // b left cleanly after its handler resolved: a resumes from b's committed offset, not before it.
      expect(a.received.filter((record) => handledByB.has(id(record)))).toEqual([]);
    }, CASE_TIMEOUT_MS);

    test("retries a batch whose handler threw before handing over any later record", async () => {
      const { log } = fixture;
      const failedOnce = new Set<number>();
      const member = join(log, "g", "m", async (batch) => {
        if (failedOnce.has(batch.partition)) return;
        failedOnce.add(batch.partition);
        throw new Error("handler failure injected by the test");
      });
      const positions = await log.append(records(coveringKeys(log), 20, "r"));
      await waitFor("all records received", () => member.received.length >= positions.length);
      expect(member.received.map(id).sort()).toEqual(positions.map(id).sort());
      for (let partition = 0; partition < log.partitionCount; partition++) {
        const [failed, retried] = member.calls.filter((batch) => batch.partition === partition);
        expect(retried?.records[0]?.offset).toBe(failed!.records[0]!.offset);
      }
    }, CASE_TIMEOUT_MS);

    test("commits nothing past a failing batch: the next owner starts at it", async () => {
      const { log } = fixture;
      const a = join(log, "g", "a", async () => {
        throw new Error("handler failure injected by the test");
      });
      const positions = await log.append(records(coveringKeys(log), 20, "r"));
      const failedPartitions = () => new Set(a.calls.map((batch) => batch.partition)).size;
      await waitFor("a failed on every partition", () => failedPartitions() === log.partitionCount);
      await a.stop();
      const b = join(log, "g", "b");
      await waitFor("b received everything", () => covers([b], positions));
    }, CASE_TIMEOUT_MS);

    test("commits nothing for a batch left unfinished by a stopping member: the next owner gets it again", async () => {
      const { log } = fixture;
      const gate = Promise.withResolvers<void>();
      const a = join(log, "g", "a", () => gate.promise);
      const positions = await log.append(records(coveringKeys(log), 20, "r"));
      await waitFor("a is inside a batch", () => a.calls.length > 0);
      a.controller.abort();
      gate.resolve();
      await a.done;
      const unfinished = a.calls.flatMap((batch) => batch.records);
      const b = join(log, "g", "b");
      await waitFor("b received the unfinished batches", () => covers([b], unfinished));
      await waitFor("a and b received everything", () => covers([a, b], positions));
    }, CASE_TIMEOUT_MS);

    test("finishes an in-flight batch before its revoked partition runs on the new owner", async () => {
      const { log } = fixture;
      const gate = Promise.withResolvers<void>();
      const active = new Map<number, number>();
      let overlaps = 0;
      const exclusive = (wait: () => Promise<void>): Behaviour => async (batch) => {
        if ((active.get(batch.partition) ?? 0) > 0) overlaps++;
        active.set(batch.partition, (active.get(batch.partition) ?? 0) + 1);
        try {
          await wait();
        } finally {
          active.set(batch.partition, active.get(batch.partition)! - 1);
        }
      };
      const a = join(log, "g", "a", exclusive(() => gate.promise));
      const positions = await log.append(records(coveringKeys(log), 40, "r"));
      await waitFor("a is inside a batch", () => a.calls.length > 0);
      const b = join(log, "g", "b", exclusive(async () => {}));
      await waitFor("a revocation started", () => a.calls.some((batch) => batch.signal.aborted) || b.owned.size > 0);
      await sleep(100); // room for a broken adapter to start b early
      gate.resolve();
      await waitFor("partitions split", () => isSplit(log, [a, b]));
      await waitFor("all records received", () => covers([a, b], positions));
      expect(overlaps).toBe(0);
    }, CASE_TIMEOUT_MS);

    test("lets a second group read the same records independently", async () => {
      const { log } = fixture;
      const keys = coveringKeys(log);
      const first = await log.append(records(keys, 30, "first"));
      const one = join(log, "g1", "m");
      await waitFor("g1 received the first wave", () => covers([one], first));
      const two = join(log, "g2", "m");
      await waitFor("g2 received the first wave", () => covers([two], first));
      const second = await log.append(records(keys, 10, "second"));
      await waitFor("both groups received the second wave", () => covers([one], second) && covers([two], second));
      for (const member of [one, two]) {
        expect(member.received.map(id).sort()).toEqual([...first, ...second].map(id).sort());
      }
    }, CASE_TIMEOUT_MS);

    test("delivers records appended while consuming (live tail)", async () => {
      const { log } = fixture;
      const keys = coveringKeys(log);
      const member = join(log, "g", "m");
      await waitFor("m owns every partition", () => member.owned.size === log.partitionCount);
      const positions: LogPosition[] = [];
      for (let wave = 0; wave < 5; wave++) {
        positions.push(...(await log.append(records(keys, 10, `wave-${wave}`))));
        await sleep(20);
      }
      await waitFor("all records received", () => member.received.length >= positions.length);
      expect(member.received.map(id).sort()).toEqual(positions.map(id).sort());
      expectIncreasingPerPartition(member.received);
    }, CASE_TIMEOUT_MS);

    test("rejects appends after close with BackendUnavailableError", async () => {
      await fixture.log.close();
      const append = fixture.log.append([{ key: "k", value: bytes("v") }]);
      await expect(append).rejects.toBeInstanceOf(BackendUnavailableError);
    }, CASE_TIMEOUT_MS);

    test("keeps records and committed offsets across close and reopen", async () => {
      if (fixture.reopen === undefined) {
        console.info(`${name}: durability case not applicable (fixture has no reopen)`);
        return;
      }
      const { log } = fixture;
      const keys = coveringKeys(log);
      const appended = records(keys, 30, "before");
      const before = await log.append(appended);
      const member = join(log, "g", "m");
      await waitFor("all records received", () => covers([member], before));
      await member.stop();
      await log.close();

      const reopened = await fixture.reopen();
      expect(reopened.partitionCount).toBe(log.partitionCount);
      expect(keys.map((key) => reopened.partitionOf(key))).toEqual(keys.map((key) => log.partitionOf(key)));
      const after = await reopened.append(records(keys, 10, "after"));
      const lastBefore = new Map(before.map((position) => [position.partition, position.offset]));
      for (const position of after) expect(position.offset).toBeGreaterThan(lastBefore.get(position.partition) ?? -1);

      const resumed = join(reopened, "g", "m");
      const fresh = join(reopened, "fresh", "m");
      await waitFor("both groups caught up", () => covers([resumed], after) && covers([fresh], [...before, ...after]));
      expect(resumed.received.map(id).sort()).toEqual(after.map(id).sort());
      const stored = fresh.received.find((record) => id(record) === id(before[0]!))!;
      expect(stored.key).toBe(appended[0]!.key);
      expect(Array.from(stored.value)).toEqual(Array.from(appended[0]!.value));
    }, CASE_TIMEOUT_MS);
  });
}
