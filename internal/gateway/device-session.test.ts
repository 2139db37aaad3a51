import { Code } from "@connectrpc/connect";
import { describe, expect, test } from "bun:test";
import type { ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import type { Identity } from "../auth/index.ts";
import type { ConversationId, DeviceId, UserId } from "../domain/index.ts";
import { createDeviceSession } from "./device-session.ts";

const identity: Identity = { userId: "u1" as UserId, deviceId: "d1" as DeviceId };
const typing = (n: number) => ({ type: "typing" as const, conversationId: `c${n}` as ConversationId, userId: "u2" as UserId, typing: true });

/** Reads the session's stream to its end: the event kinds, and the error it ended with. */
async function drain(session: ReturnType<typeof createDeviceSession>): Promise<{ cases: string[]; error: unknown }> {
  const cases: string[] = [];
  try {
    for await (const batch of session.batches(1_000)) cases.push(...batch.map((e: ServerEvent) => e.event.case ?? ""));
  } catch (error) {
    return { cases, error };
  }
  return { cases, error: undefined };
}

describe("device session", () => {
  test("a device that fills its queue is cut with SLOW_CONSUMER, and the queue is dropped at once: only the Reconnect remains", async () => {
    const session = createDeviceSession({ id: "s1", identity, kind: "bidi", queueLimit: 4, nowMs: 0 });
    session.goLive();
    for (let n = 0; n < 5; n++) session.deliver(typing(n));
    expect(session.closeReason).toBe("SLOW_CONSUMER");
    expect(session.queued).toBe(1);
    const { cases, error } = await drain(session);
    expect(cases).toEqual(["reconnect"]);
    expect(String(error)).toContain("SLOW_CONSUMER");
  });

  test("a session ended for another reason still sends what was queued, then the Reconnect", async () => {
    const session = createDeviceSession({ id: "s2", identity, kind: "bidi", queueLimit: 4, nowMs: 0 });
    session.goLive();
    for (let n = 0; n < 3; n++) session.deliver(typing(n));
    session.close({ code: Code.Unavailable, reason: "SHUTTING_DOWN", message: "bye" });
    const { cases, error } = await drain(session);
    expect(cases).toEqual(["typing", "typing", "typing", "reconnect"]);
    expect(String(error)).toContain("SHUTTING_DOWN");
  });
});

describe("device session batches", () => {
  test("a waiting reader gets what is queued later; return() ends the session", async () => {
    const session = createDeviceSession({ id: "s3", identity, kind: "bidi", queueLimit: 4, nowMs: 0 });
    session.goLive();
    const batches = session.batches(2);
    const waiting = batches.next();
    for (let n = 0; n < 3; n++) session.deliver(typing(n));
    expect((await waiting).value).toHaveLength(2);
    expect((await batches.next()).value).toHaveLength(1);
    expect(session.closed).toBe(false);
    await batches.return!();
    expect(session.closed).toBe(true);
    expect(await batches.next()).toEqual({ value: undefined, done: true });
  });

  test("catch-up writers blocked by a full queue go on once a batch is taken", async () => {
    const session = createDeviceSession({ id: "s4", identity, kind: "bidi", queueLimit: 2, nowMs: 0 });
    const event = (n: number) => ({ $typeName: "chat.v1.ServerEvent", event: { case: "pong", value: { $typeName: "chat.v1.Pong", nonce: BigInt(n), serverTimeMs: 0n } } }) as ServerEvent;
    await session.sendSync(event(1));
    await session.sendSync(event(2));
    let third = false;
    const blocked = session.sendSync(event(3)).then(() => (third = true));
    await Bun.sleep(5);
    expect(third).toBe(false);
    const batches = session.batches(10);
    expect((await batches.next()).value).toHaveLength(2);
    await blocked;
    expect((await batches.next()).value).toHaveLength(1);
  });

  test("a batch handed out is not kept while the consumer waits for the next (an idle stream holds no old events)", async () => {
    const session = createDeviceSession({ id: "s5", identity, kind: "bidi", queueLimit: 4, nowMs: 0 });
    session.goLive();
    let handedOut: WeakRef<ServerEvent[]> | undefined;
    // Consumed as the RPC handlers consume it: a generator mapping batches to frames.
    async function* frames() {
      for await (const batch of session.batches(10)) {
        handedOut ??= new WeakRef(batch);
        yield { events: batch };
      }
    }
    const stream = frames();
    session.deliver(typing(1));
    await (async () => void (await stream.next()))();
    const waiting = stream.next();
    for (let i = 0; i < 5 && handedOut!.deref() !== undefined; i++) {
      await Bun.sleep(1);
      Bun.gc(true);
    }
    // An async generator in place of the iterator kept it (its last result stayed reachable from the waiting promise).
    expect(handedOut!.deref()).toBeUndefined();
    session.close();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });
});
