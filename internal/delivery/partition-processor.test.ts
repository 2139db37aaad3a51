import { expect, test } from "bun:test";
import pino from "pino";
import { asDeviceId, asGatewayId, asUserId, conversationIdFor, systemClock } from "../domain/index.ts";
import { encodeClientEvent, type ClientEvent } from "../log/log-event-codec.ts";
import type { LogRecord } from "../log/index.ts";
import type { Delivery } from "../push/index.ts";
import { createLocalPushHub } from "../push/memory/index.ts";
import { createMemoryRoutingTable } from "../routing/memory/index.ts";
import { createSqliteStore } from "../store/sqlite/index.ts";
import { createPartitionProcessor } from "./partition-processor.ts";
import type { MessageStore } from "../store/index.ts";
import { seqOf } from "./sequencing.ts";

const a = asUserId("u_a");
const b = asUserId("u_b");
const conversationId = conversationIdFor(a, b);

const send = (offset: number, clientMsgId: string = crypto.randomUUID()): LogRecord => ({
  partition: 0,
  offset,
  key: conversationId,
  value: encodeClientEvent({
    type: "send",
    conversationId,
    userId: a,
    deviceId: asDeviceId(`d_${a}`),
    acceptedAtMs: offset,
    clientMsgId,
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

const receipt = (offset: number, type: "ack" | "read", user: typeof a, seq: number): LogRecord => ({
  partition: 0,
  offset,
  key: conversationId,
  value: encodeClientEvent({ type, conversationId, userId: user, deviceId: asDeviceId(`d_${user}`), acceptedAtMs: offset, seq }),
});

/** A processor whose pushes for both users' devices are recorded. */
async function fixture() {
  const store = createSqliteStore({ path: ":memory:" });
  await store.ensureConversation({ id: conversationId, userA: a, userB: b, createdAtMs: 0 });
  const routing = createMemoryRoutingTable({ clock: systemClock });
  const push = createLocalPushHub();
  const gw = asGatewayId("gw");
  const pushed: Delivery[] = [];
  push.attach(gw, (ds) => void pushed.push(...ds));
  for (const user of [a, b]) {
    await routing.register({ deviceId: asDeviceId(`d_${user}`), userId: user, gatewayId: gw, sessionId: `s_${user}` }, 60_000);
  }
  const processor = createPartitionProcessor({ generation: 0 }, { store, routing, push, logger: pino({ level: "silent" }) });
  return { store, processor, pushed };
}

test("a retry inside the same batch as its original is a duplicate: one row, the original seq twice", async () => {
  const { store, processor, pushed } = await fixture();
  const id = crypto.randomUUID();
  await processor.handleBatch(batch([send(0, id), send(1), send(2, id)]));

  const rows = await store.messagesAfter(conversationId, 0, 100);
  expect(rows.map((r) => [r.seq, r.prevSeq])).toEqual([[1, 0], [2, 1]]);
  const results = pushed.flatMap((d) => (d.event.type === "send_result" ? [[d.event.seq, d.event.duplicate]] : []));
  expect(results).toEqual([[1, false], [2, false], [1, true]]);
  await store.close();
});

test("receipts of one batch are clamped per record, merged per user, and pushed once with the stored value", async () => {
  const { store, processor, pushed } = await fixture();
  await processor.handleBatch(
    batch([
      send(0),
      receipt(1, "ack", b, 99), // beyond the head at its position: clamped to 1
      send(2),
      receipt(3, "read", b, 1),
      receipt(4, "ack", b, 3),
    ]),
  );

  expect((await store.getWatermarks(conversationId)).get(b)).toEqual({ deliveredSeq: 3, readSeq: 1 });
  expect(await store.getDeviceCursors(asDeviceId(`d_${b}`))).toEqual(new Map([[conversationId, 3]]));
  const receipts = pushed.filter((d) => d.event.type === "receipt");
  // Once per device of the conversation's two users, with the final value.
  expect(receipts.map((d) => [d.deviceId, d.event.type === "receipt" && d.event.watermarks])).toEqual([
    [asDeviceId(`d_${a}`), { deliveredSeq: 3, readSeq: 1 }],
    [asDeviceId(`d_${b}`), { deliveredSeq: 3, readSeq: 1 }],
  ]);

  // A later batch that moves nothing pushes no receipt.
  pushed.length = 0;
  await processor.handleBatch(batch([receipt(5, "ack", b, 2)]));
  expect(pushed).toEqual([]);
  await store.close();
});

test("a receipt of earlier messages is written alongside the batch's messages; one that reaches them waits for them", async () => {
  const c = asUserId("u_c");
  const other = conversationIdFor(a, c);
  const store = createSqliteStore({ path: ":memory:" });
  await store.ensureConversation({ id: conversationId, userA: a, userB: b, createdAtMs: 0 });
  await store.ensureConversation({ id: other, userA: a, userB: c, createdAtMs: 0 });
  const name = (id: string) => (id === conversationId ? "ab" : "ac");
  const events: string[] = [];
  let gate = Promise.resolve();
  const gated: MessageStore = {
    ...store,
    async appendMessage(m) {
      await gate;
      await store.appendMessage(m);
      events.push(`stored ${name(m.conversationId)} ${m.seq}`);
    },
    async advanceWatermarks(id, user, to) {
      events.push(`watermarks ${name(id)} ${to.deliveredSeq}`);
      return store.advanceWatermarks(id, user, to);
    },
  };
  const deps = { store: gated, routing: createMemoryRoutingTable({ clock: systemClock }), push: createLocalPushHub() };
  const processor = createPartitionProcessor({ generation: 0 }, { ...deps, logger: pino({ level: "silent" }) });
  const record = (offset: number, ev: ClientEvent): LogRecord => ({ partition: 0, offset, key: ev.conversationId, value: encodeClientEvent(ev) });
  const header = (conv: typeof conversationId, user: typeof a, offset: number) => ({
    conversationId: conv, userId: user, deviceId: asDeviceId(`d_${user}`), acceptedAtMs: offset,
  });
  const sendIn = (offset: number, conv: typeof conversationId, clientMsgId: string) =>
    record(offset, { ...header(conv, a, offset), type: "send", clientMsgId, text: clientMsgId });
  const ackIn = (offset: number, conv: typeof conversationId, user: typeof a, seq: number) =>
    record(offset, { ...header(conv, user, offset), type: "ack", seq });

  await processor.handleBatch(batch([sendIn(0, other, "m0")]));
  let release!: () => void;
  gate = new Promise((resolve) => (release = resolve));
  const handled = processor.handleBatch(
    batch([
      sendIn(1, conversationId, "m1"),
      ackIn(2, other, c, 1), // stored by the batch before
      ackIn(3, conversationId, b, 2), // the message of this batch
    ]),
  );
  for (let i = 0; i < 20 && !events.includes("watermarks ac 1"); i++) await Bun.sleep(5);
  expect(events).toEqual(["stored ac 1", "watermarks ac 1"]);
  release();
  await handled;
  expect(events).toEqual(["stored ac 1", "watermarks ac 1", "stored ab 2", "watermarks ab 2"]);
  expect((await store.getWatermarks(conversationId)).get(b)).toEqual({ deliveredSeq: 2, readSeq: 0 });
  await store.close();
});
