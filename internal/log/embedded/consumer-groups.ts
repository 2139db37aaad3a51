import type { Logger } from "pino";
import { BackendUnavailableError } from "../../domain/index.ts";
import type { ConsumeOptions } from "../message-log.ts";
import { assignPartitions } from "./assign-partitions.ts";
import { runPartitionConsumer } from "./partition-consumer.ts";
import type { SqliteLogStorage } from "./sqlite-log-storage.ts";

/** In-process consumer-group coordinator of the embedded log. */
export interface ConsumerGroups {
  /** MessageLog.consume: joins the group until `signal` aborts. */
  consume(options: ConsumeOptions, signal: AbortSignal): Promise<void>;
  /** Stops every member and waits until all their partition loops ended. */
  close(): Promise<void>;
}

interface OwnedPartition {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

interface Member {
  readonly options: ConsumeOptions;
  /** The caller's signal or log close, whichever comes first. */
  readonly stop: AbortSignal;
  readonly owned: Map<number, OwnedPartition>;
}

interface Group {
  readonly id: string;
  /** Live members in join order. */
  members: Member[];
  readonly owners: (Member | undefined)[];
  /** Rebalances run one at a time, in order; this is the tail of that queue. */
  queue: Promise<void>;
}

const DEFAULT_MAX_BATCH_RECORDS = 500;

/**
 * Creates the coordinator. A membership change queues a rebalance, which
 * first revokes the partitions that move (abort their loop, await the
 * in-flight batch, no commit after that) and only then starts them on their
 * new owner, so two members of a group never handle one partition at once.
 */
export function createConsumerGroups(deps: { storage: SqliteLogStorage; logger: Logger }): ConsumerGroups {
  const { storage, logger } = deps;
  const groups = new Map<string, Group>();
  const closing = new AbortController();
  const running = new Set<Promise<void>>();

  function enqueueRebalance(group: Group): Promise<void> {
    group.queue = group.queue
      .then(() => rebalance(group))
      .catch((err: unknown) => logger.error({ err, groupId: group.id }, "log rebalance failed"));
    return group.queue;
  }

  async function rebalance(group: Group): Promise<void> {
    const live = group.members.filter((member) => !member.stop.aborted);
    const target = assignPartitions(group.owners, live);
    const revoked = new Map<Member, number[]>();
    const assigned = new Map<Member, number[]>();
    target.forEach((owner, partition) => {
      const current = group.owners[partition];
      if (current === owner) return;
      if (current !== undefined) pushTo(revoked, current, partition);
      if (owner !== undefined) pushTo(assigned, owner, partition);
    });

    // Revocation completes before any assignment: that is the no-overlap guarantee.
    const stops: Promise<void>[] = [];
    for (const [member, partitions] of revoked) {
      for (const partition of partitions) stops.push(stopPartition(member, partition));
    }
    await Promise.all(stops);
    for (const [member, partitions] of revoked) {
      for (const partition of partitions) group.owners[partition] = undefined;
      notify(member, "onRevoked", partitions);
    }

    for (const [member, partitions] of assigned) {
      // A member that stopped meanwhile has queued its own rebalance, which places these.
      if (member.stop.aborted) continue;
      for (const partition of partitions) {
        group.owners[partition] = member;
        startPartition(group, member, partition);
      }
      notify(member, "onAssigned", partitions);
    }
  }

  function startPartition(group: Group, member: Member, partition: number): void {
    const controller = new AbortController();
    const done = runPartitionConsumer(
      {
        groupId: group.id,
        memberId: member.options.memberId,
        partition,
        handler: member.options.handler,
        maxBatchRecords: member.options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS,
        signal: controller.signal,
      },
      { storage, logger },
    ).catch((err: unknown) => {
      // Storage failures end the loop; the partition stays owned but idle until the next
      // rebalance, which is better than spinning on a broken database.
      const { memberId } = member.options;
      logger.error({ err, groupId: group.id, memberId, partition }, "log partition loop failed");
    });
    member.owned.set(partition, { controller, done });
  }

  async function stopPartition(member: Member, partition: number): Promise<void> {
    const owned = member.owned.get(partition);
    if (owned === undefined) return;
    owned.controller.abort();
    await owned.done;
    member.owned.delete(partition);
  }

  function notify(member: Member, callback: "onAssigned" | "onRevoked", partitions: readonly number[]): void {
    try {
      member.options[callback]?.(partitions);
    } catch (err) {
      logger.error({ err, memberId: member.options.memberId, callback }, "log consumer callback failed");
    }
  }

  async function runMember(options: ConsumeOptions, signal: AbortSignal): Promise<void> {
    const stop = AbortSignal.any([signal, closing.signal]);
    if (stop.aborted) return;
    const group = groups.get(options.groupId) ?? newGroup(options.groupId, storage.partitionCount);
    groups.set(group.id, group);
    const member: Member = { options, stop, owned: new Map() };
    group.members.push(member);
    // A stopping member drops its batches at once, even while another rebalance is queued ahead.
    const stopOwned = () => {
      for (const owned of member.owned.values()) owned.controller.abort();
    };
    stop.addEventListener("abort", stopOwned, { once: true });
    void enqueueRebalance(group);

    await new Promise<void>((resolve) => stop.addEventListener("abort", () => resolve(), { once: true }));
    group.members = group.members.filter((other) => other !== member);
    await enqueueRebalance(group);
    if (group.members.length === 0 && groups.get(group.id) === group) groups.delete(group.id);
  }

  return {
    async consume(options, signal) {
      if (closing.signal.aborted) throw new BackendUnavailableError("log", "embedded log closed");
      const run = runMember(options, signal);
      running.add(run);
      try {
        await run;
      } finally {
        running.delete(run);
      }
    },
    async close() {
      closing.abort();
      await Promise.all([...running]);
    },
  };
}

function newGroup(id: string, partitionCount: number): Group {
  const owners = new Array<Member | undefined>(partitionCount).fill(undefined);
  return { id, members: [], owners, queue: Promise.resolve() };
}

function pushTo(map: Map<Member, number[]>, member: Member, partition: number): void {
  const list = map.get(member);
  if (list === undefined) map.set(member, [partition]);
  else list.push(partition);
}
