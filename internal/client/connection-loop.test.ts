import { describe, expect, test } from "bun:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ServerEventSchema, type ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "../../gen/chat/v1/types_pb.ts";
import type { ConnectionFailure, ConnectionState } from "./chat-events.ts";
import { createConnectionLoop } from "./connection-loop.ts";
import { createManualRuntime } from "./manual-runtime.ts";
import type { StreamLink } from "./stream-link.ts";

const ev = (event: MessageInitShape<typeof ServerEventSchema>["event"]): ServerEvent => create(ServerEventSchema, { event });
const welcome = (heartbeatIntervalMs = 0) => ev({ case: "welcome", value: { heartbeatIntervalMs } });
const synced = ev({ case: "syncComplete", value: {} });

/** What one scripted stream does: these events, then end, fail, or hang until aborted. */
interface Script {
  readonly events: ServerEvent[];
  readonly then: "end" | "fail" | "hang";
}

/** Runs the loop over scripted streams; stops after the last script's stream closes. */
async function runScripts(scripts: Script[], opts: { random?: () => number; advanceMs?: number } = {}) {
  const runtime = createManualRuntime({ random: opts.random ?? (() => 0) });
  const stopper = new AbortController();
  const waits: { retryInMs?: number; failure?: ConnectionFailure }[] = [];
  const states: ConnectionState[] = [];
  const pings: number[] = [];
  let opened = 0;

  const open = (signal: AbortSignal): StreamLink => {
    const script = scripts[opened++];
    async function* events(): AsyncGenerator<ServerEvent> {
      if (!script) return;
      for (const e of script.events) yield e;
      if (script.then === "fail") throw new ConnectError("gone", Code.Unavailable);
      if (script.then === "hang") {
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        throw new ConnectError("aborted", Code.Canceled);
      }
    }
    return {
      events: events(),
      carriesPings: true,
      send: () => undefined,
      ack: () => undefined,
      markRead: () => undefined,
      setTyping: () => undefined,
      watchPresence: () => undefined,
      ping: (n) => pings.push(n),
      close: () => undefined,
    };
  };
  const loop = createConnectionLoop(
    { backoff: { baseMs: 100, maxMs: 10_000 } },
    {
      runtime,
      open,
      handle: async () => undefined,
      onState: (state, detail) => {
        states.push(state);
        if (state === "waiting") waits.push(detail ?? {});
      },
      onClosed: () => {
        if (opened >= scripts.length) stopper.abort();
      },
    },
  );
  const done = loop.run(stopper.signal);
  for (let i = 0; i < 50 && !stopper.signal.aborted; i++) await runtime.advance(opts.advanceMs ?? 1_000);
  stopper.abort();
  await done;
  return { waits, states, pings, opened };
}

describe("connection loop", () => {
  test("waits at least the server's retry_after after a Reconnect", async () => {
    const reconnect = ev({ case: "reconnect", value: { reason: ErrorReason.SHUTTING_DOWN, retryAfterMs: 5_000 } });
    const { waits } = await runScripts([
      { events: [welcome(), synced, reconnect], then: "hang" },
      { events: [], then: "end" },
    ]);
    expect(waits[0]?.retryInMs).toBe(5_000);
    expect(waits[0]?.failure?.reason).toBe("SHUTTING_DOWN");
  });

  test("backs off exponentially across failures and starts over after a stream completed its catch-up", async () => {
    const { waits } = await runScripts(
      [
        { events: [], then: "fail" },
        { events: [welcome()], then: "fail" },
        { events: [], then: "fail" },
        { events: [welcome(), synced], then: "fail" },
        { events: [], then: "end" },
      ],
      { random: () => 0.999 },
    );
    // Full jitter at the top of each window: 100, 200, 400, then reset to 100 after SyncComplete.
    expect(waits.slice(0, 4).map((w) => w.retryInMs)).toEqual([99, 199, 399, 99]);
    expect(waits[0]?.failure?.code).toBe("unavailable");
  });

  test("reports connecting, syncing, live, then waiting before the next attempt", async () => {
    const { states } = await runScripts([
      { events: [welcome(1_000), synced], then: "end" },
      { events: [], then: "end" },
    ]);
    expect(states.slice(0, 5)).toEqual(["connecting", "syncing", "live", "waiting", "connecting"]);
    expect(states.at(-1)).toBe("offline");
  });

  test("abandons a stream silent for 3 heartbeat intervals, after pinging on it", async () => {
    const { waits, pings, opened } = await runScripts(
      [
        { events: [welcome(1_000), synced], then: "hang" },
        { events: [], then: "end" },
      ],
      { advanceMs: 500 },
    );
    expect(waits[0]?.failure?.reason).toBe("HEARTBEAT_TIMEOUT");
    expect(pings).toEqual([1, 2]);
    expect(opened).toBe(2);
  });
});
