import { expect, test } from "bun:test";
import pino from "pino";
import { asDeviceId, asUserId, conversationIdFor, systemClock } from "../domain/index.ts";
import { encodeClientEvent } from "../log/log-event-codec.ts";
import type { LogRecord } from "../log/index.ts";
import { createLocalPushHub } from "../push/memory/index.ts";
import { createMemoryRoutingTable } from "../routing/memory/index.ts";
import { createSqliteStore } from "../store/sqlite/index.ts";
import { createPartitionProcessor } from "./partition-processor.ts";
import { seqOf } from "./sequencing.ts";

const a = asUserId("u_a");
const b = asUserId("u_b");
const conversationId = conversationIdFor(a, b);

const send = (offset: number): LogRecord => ({
  partition: 0,
  offset,
  key: conversationId,
  value: encodeClientEvent({
    type: "send",
    conversationId,
    userId: a,
    deviceId: asDeviceId("d_a"),
    acceptedAtMs: offset,
    clientMsgId: crypto.randomUUID(),
    text: `at ${offset}`,
  }),
});
const batch = (records: LogRecord[]) => ({ partition: 0, records, signal: new AbortController().signal });

test("a batch that does not continue where this processor stopped re-reads prev_seq from the store, not a stale cache", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  await store.ensureConversation({ id: conversationId, userA: a, userB: b, createdAtMs: 0 });
  const deps = { store, routing: createMemoryRoutingTable({ clock: systemClock }), push: createLocalPushHub(), logger: pino({ level: "silent" }) };
  const mine = createPartitionProcessor({ generation: 0 }, deps);
  const other = createPartitionProcessor({ generation: 0 }, deps);

  await mine.handleBatch(batch([send(0), send(1)]));
  // While this member was away (expelled, frozen), another owner handled 2..4.
  await other.handleBatch(batch([send(2), send(3), send(4)]));
  // The partition comes back to this member at offset 5, without a revoke in between.
  await mine.handleBatch(batch([send(5)]));

  const rows = await store.messagesAfter(conversationId, 0, 100);
  expect(rows.map((r) => [r.seq, r.prevSeq])).toEqual([
    [seqOf({ partition: 0, offset: 0 }, 0), 0],
    [2, 1],
    [3, 2],
    [4, 3],
    [5, 4],
    [6, 5],
  ]);
  await store.close();
});
