import { afterEach, expect, test } from "bun:test";
import pino from "pino";
import { asDeviceId, asGatewayId, type StoredMessage, asUserId, conversationIdFor, systemClock, type ConversationId } from "../domain/index.ts";
import { createEmbeddedLog } from "../log/embedded/index.ts";
import { encodeClientEvent } from "../log/log-event-codec.ts";
import type { LogPosition, MessageLog } from "../log/index.ts";
import { createLocalPushHub } from "../push/memory/index.ts";
import { createMemoryRoutingTable } from "../routing/memory/index.ts";
import { createSqliteStore } from "../store/sqlite/index.ts";
import { createDeliveryWorker } from "./delivery-worker.ts";
import { seqOf } from "./sequencing.ts";

const logger = pino({ level: "silent" });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * DESIGN §4 required test: two workers process the same partitions at once (a
 * stale owner racing the new one, modelled as a second consumer group that
 * starts late and replays from the beginning), while clients retry sends.
 * Afterwards invariants 1-3 hold, and every row equals what the log alone
 * dictates: seq = position of the first record with that client id, prev_seq =
 * the previous message of the conversation in log order.
 */
test("a zombie owner racing the real one while clients retry leaves order, no duplicates and no loss", async () => {
  const log: MessageLog = createEmbeddedLog({ path: ":memory:", partitionCount: 3 }, { logger });
  const store = createSqliteStore({ path: ":memory:" });
  const routing = createMemoryRoutingTable({ clock: systemClock });
  const push = createLocalPushHub();
  cleanups.push(async () => {
    await log.close();
    await store.close();
  });

  const users = Array.from({ length: 6 }, (_, i) => asUserId(`u_${i}`));
  const conversations: { id: ConversationId; a: (typeof users)[number]; b: (typeof users)[number] }[] = [];
  for (let i = 0; i < users.length; i += 2) {
    const [a, b] = [users[i]!, users[i + 1]!];
    const id = conversationIdFor(a, b);
    const [userA, userB] = a < b ? [a, b] : [b, a];
    await store.ensureConversation({ id, userA, userB, createdAtMs: 0 });
    conversations.push({ id, a, b });
  }

  // Every device is routed to one test gateway that records what workers push:
  // a stale owner must not push anything the log does not dictate either.
  const pushed: StoredMessage[] = [];
  for (const u of users) {
    await routing.register({ deviceId: asDeviceId(`d_${u}`), userId: u, gatewayId: asGatewayId("gw"), sessionId: "s" }, 600_000);
  }
  push.attach(asGatewayId("gw"), (deliveries) => {
    for (const d of deliveries) if (d.event.type === "message") pushed.push(d.event.message);
  });

  const workers: AbortController[] = [];
  const start = (groupId: string, memberId: string) => {
    const stop = new AbortController();
    workers.push(stop);
    const w = createDeliveryWorker({ groupId, memberId, generation: 0 }, { log, store, routing, push, logger });
    const running = w.run(stop.signal);
    cleanups.push(async () => {
      stop.abort();
      await running;
    });
    return stop;
  };

  // Producer: 240 messages, each sent 1-3 times (retries land later in the log).
  let rnd = 42;
  const random = () => ((rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const firstPosition = new Map<string, LogPosition>();
  const order: string[] = [];
  const sentIn = new Map<ConversationId, string[]>();
  const retries: { key: string; value: Uint8Array; id: string }[] = [];
  const primary = start("workers", "primary");
  let zombieStarted = false;
  for (let i = 0; i < 240; i++) {
    const c = conversations[i % conversations.length]!;
    const sender = random() < 0.5 ? c.a : c.b;
    const id = crypto.randomUUID();
    const value = encodeClientEvent({
      type: "send",
      conversationId: c.id,
      userId: sender,
      deviceId: asDeviceId(`d_${sender}`),
      acceptedAtMs: 1_000 + i,
      clientMsgId: id,
      text: `msg ${i}`,
    });
    const [pos] = await log.append([{ key: c.id, value }]);
    firstPosition.set(id, pos!);
    order.push(id);
    sentIn.set(c.id, [...(sentIn.get(c.id) ?? []), id]);
    const copies = Math.floor(random() * 3);
    for (let k = 0; k < copies; k++) retries.push({ key: c.id, value, id });
    if (retries.length > 0 && random() < 0.4) {
      const r = retries.splice(Math.floor(random() * retries.length), 1)[0]!;
      await log.append([{ key: r.key, value: r.value }]);
    }
    if (i === 80) {
      // The stale owner wakes up and replays everything concurrently.
      start("zombie", "zombie");
      zombieStarted = true;
    }
    if (i === 160) {
      // The real owner crashes mid-stream; a new member of its group takes over.
      primary.abort();
      start("workers", "successor");
    }
  }
  for (const r of retries) await log.append([{ key: r.key, value: r.value }]);
  expect(zombieStarted).toBe(true);

  // Quiescence: every message stored, bounded wait.
  const deadline = Date.now() + 20_000;
  const storedCount = async () => {
    let n = 0;
    for (const c of conversations) n += (await store.messagesAfter(c.id, 0, 10_000)).length;
    return n;
  };
  while ((await storedCount()) < order.length && Date.now() < deadline) await Bun.sleep(25);
  await Bun.sleep(200); // let both owners finish replaying; rows must not change
  for (const w of workers) w.abort();

  for (const c of conversations) {
    const rows = await store.messagesAfter(c.id, 0, 10_000);
    const expectedIds = sentIn.get(c.id)!;
    // Invariant 3: nothing lost. Invariant 2: each client id exactly once.
    expect(rows.map((r) => r.clientMsgId).sort()).toEqual([...expectedIds].sort());
    // Invariant 1 and determinism: seq = first log position, prev chain unbroken in log order.
    let prev = 0;
    for (const id of expectedIds) {
      const row = rows.find((r) => r.clientMsgId === id)!;
      expect(row.seq).toBe(seqOf(firstPosition.get(id)!, 0));
      expect(row.prevSeq).toBe(prev);
      prev = row.seq;
    }
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((x, y) => x - y));
    expect(await store.headSeq(c.id)).toBe(prev);
    for (const m of pushed.filter((p) => p.conversationId === c.id)) {
      const row = rows.find((r) => r.seq === m.seq);
      expect(m).toEqual(row!);
    }
    const dedup = await Promise.all(expectedIds.map((id) => store.findDedup(c.id, id)));
    expect(dedup).toEqual(expectedIds.map((id) => seqOf(firstPosition.get(id)!, 0)));
  }
}, 60_000);
