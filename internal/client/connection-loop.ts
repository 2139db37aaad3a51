import { ConnectError } from "@connectrpc/connect";
import type { ServerEvent } from "../../gen/chat/v1/chat_service_pb.ts";
import { createBackoff, type BackoffConfig } from "./backoff.ts";
import type { ConnectionFailure, ConnectionState } from "./chat-events.ts";
import { codeName, errorReasonOf, reasonName } from "./errors.ts";
import { startHeartbeat, type Heartbeat } from "./heartbeat.ts";
import { sleep, type ClientRuntime } from "./runtime.ts";
import type { StreamLink } from "./stream-link.ts";
import { RestartStreamError } from "./sync-engine.ts";

/** What one stream attempt ended with. */
interface Outcome {
  /** It reached SyncComplete: the next reconnect may start from a short delay. */
  synced: boolean;
  /** The server asked to back off for real (a deferred send), whatever `synced` says. */
  penalized: boolean;
  retryAfterMs: number;
  failure?: ConnectionFailure;
}

/** Callbacks of the connection loop. */
export interface ConnectionLoopDeps {
  readonly runtime: ClientRuntime;
  /** Opens a stream whose calls end when `signal` aborts. */
  readonly open: (signal: AbortSignal) => StreamLink;
  /** Handles one event (serialized by the callee); throwing ends the stream. */
  readonly handle: (event: ServerEvent, link: StreamLink) => Promise<void>;
  readonly onState: (state: ConnectionState, detail?: { failure?: ConnectionFailure; retryInMs?: number }) => void;
  /** The stream ended (any way): nothing may be sent on it any more. */
  readonly onClosed: (link: StreamLink) => void;
}

const describe = (err: unknown): ConnectionFailure => {
  const error = ConnectError.from(err);
  return { code: codeName(error.code), reason: reasonName(errorReasonOf(error)), message: error.rawMessage };
};

/**
 * Keeps one stream open: open, read events until the stream ends, wait, and
 * open again from the current cursors. The wait is full-jitter exponential
 * backoff, reset once a stream got through its catch-up, and at least the
 * server's Reconnect.retry_after_ms. A stream silent for 3 heartbeat
 * intervals is aborted as dead.
 */
export function createConnectionLoop(
  cfg: { readonly backoff: BackoffConfig; readonly openTimeoutMs?: number },
  deps: ConnectionLoopDeps,
): { run(signal: AbortSignal): Promise<void> } {
  const { runtime } = deps;

  async function attempt(signal: AbortSignal): Promise<Outcome> {
    const outcome: Outcome = { synced: false, penalized: false, retryAfterMs: 0 };
    const stream = new AbortController();
    const abort = (): void => stream.abort();
    signal.addEventListener("abort", abort, { once: true });
    let link: StreamLink | undefined;
    let heartbeat: Heartbeat | undefined;
    let dead = false;
    // Until the Welcome, no heartbeat runs: a request lost on a half-open
    // connection (or a reused dead keep-alive socket) would wait forever.
    let cancelOpenTimer: (() => void) | undefined = runtime.timers.after(cfg.openTimeoutMs ?? 10_000, () => {
      dead = true;
      stream.abort();
    });
    try {
      link = deps.open(stream.signal);
      const current = link;
      for await (const event of current.events) {
        heartbeat?.traffic();
        const kind = event.event.case;
        if (kind === "welcome") {
          cancelOpenTimer?.();
          cancelOpenTimer = undefined;
        }
        if (kind === "welcome" && event.event.value.heartbeatIntervalMs > 0) {
          heartbeat?.stop();
          heartbeat = startHeartbeat(
            { intervalMs: event.event.value.heartbeatIntervalMs },
            {
              runtime,
              ...(current.carriesPings ? { ping: (nonce: number) => current.ping(nonce) } : {}),
              onDead: () => {
                dead = true;
                stream.abort();
              },
            },
          );
          deps.onState("syncing");
        }
        await deps.handle(event, current);
        if (kind === "syncComplete") {
          outcome.synced = true;
          deps.onState("live");
        }
        if (kind === "reconnect") {
          outcome.retryAfterMs = event.event.value.retryAfterMs;
          outcome.failure = { code: "unavailable", reason: reasonName(event.event.value.reason), message: "server asked to reconnect" };
          break;
        }
      }
    } catch (err) {
      if (!signal.aborted) {
        outcome.penalized = err instanceof RestartStreamError;
        outcome.failure = dead
          ? { code: "deadline_exceeded", reason: "HEARTBEAT_TIMEOUT", message: "no welcome in time, or stream silent for 3 heartbeat intervals" }
          : err instanceof RestartStreamError
            ? { code: "aborted", reason: "UNSPECIFIED", message: err.message }
            : (outcome.failure ?? describe(err));
      }
    } finally {
      cancelOpenTimer?.();
      heartbeat?.stop();
      stream.abort();
      signal.removeEventListener("abort", abort);
      if (link) {
        link.close();
        deps.onClosed(link);
      }
    }
    return outcome;
  }

  return {
    async run(signal) {
      const backoff = createBackoff(cfg.backoff, runtime);
      while (!signal.aborted) {
        deps.onState("connecting");
        const outcome = await attempt(signal);
        if (signal.aborted) break;
        if (outcome.synced && !outcome.penalized) backoff.reset();
        const retryInMs = Math.max(outcome.retryAfterMs, backoff.nextDelayMs());
        deps.onState("waiting", { ...(outcome.failure ? { failure: outcome.failure } : {}), retryInMs });
        await sleep(runtime.timers, retryInMs, signal);
      }
      deps.onState("offline");
    },
  };
}
