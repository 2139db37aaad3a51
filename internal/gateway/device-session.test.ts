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
