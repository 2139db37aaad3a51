import type { ClientRuntime } from "./runtime.ts";

/** Silent intervals after which a stream counts as dead. */
export const silentIntervalsBeforeDead = 3;

/** Liveness of one stream. */
export interface Heartbeat {
  /** Records that the server sent something. */
  traffic(): void;
  stop(): void;
}

/**
 * Every `intervalMs`: sends a ping when the link carries them, and declares
 * the stream dead when nothing arrived for 3 intervals. A half-open TCP
 * connection (phone changed network) otherwise looks alive for minutes; the
 * server answers pings on bidi streams and sends keepalives on subscribe
 * streams, so silence is a reliable signal in both modes.
 */
export function startHeartbeat(
  cfg: { readonly intervalMs: number },
  deps: { readonly runtime: ClientRuntime; readonly ping?: (nonce: number) => void; readonly onDead: () => void },
): Heartbeat {
  const { clock, timers } = deps.runtime;
  let lastTrafficMs = clock.nowMs();
  let nonce = 0;
  let cancel: (() => void) | undefined;

  const tick = (): void => {
    if (clock.nowMs() - lastTrafficMs >= cfg.intervalMs * silentIntervalsBeforeDead) {
      cancel = undefined;
      deps.onDead();
      return;
    }
    nonce += 1;
    deps.ping?.(nonce);
    cancel = timers.after(cfg.intervalMs, tick);
  };
  cancel = timers.after(cfg.intervalMs, tick);

  return {
    traffic() {
      lastTrafficMs = clock.nowMs();
    },
    stop() {
      cancel?.();
      cancel = undefined;
    },
  };
}
