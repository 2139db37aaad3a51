import type { Outbox } from "./outbox.ts";
import type { StreamLink } from "./stream-link.ts";

/**
 * Hands queued outbox entries to the current stream, oldest first, with at
 * most `maxInFlight` handed but not yet accepted. Every new stream starts
 * over from the head of the outbox: an entry the old stream carried but the
 * server never confirmed is sent again under the same client_msg_id (the
 * server deduplicates it), and it goes before anything enqueued after it.
 */
export interface SendPump {
  /** A stream is ready (Welcome received): start handing entries to it. */
  attach(link: StreamLink): void;
  detach(): void;
  /** The outbox changed (enqueue, accept, fail, settle): hand more if possible. */
  kick(): void;
}

/** Creates a pump with no stream attached. */
export function createSendPump(cfg: { readonly maxInFlight: number }, deps: { readonly outbox: Outbox }): SendPump {
  let link: StreamLink | undefined;
  /**
   * Entries handed to the current link that are still queued. Once accepted,
   * refused or settled an entry leaves `outbox.queued()`, so it is neither
   * in flight nor handed again.
   */
  let inFlight = new Set<string>();

  const kick = (): void => {
    if (!link) return;
    for (const id of inFlight) if (deps.outbox.get(id)?.state !== "queued") inFlight.delete(id);
    if (inFlight.size >= cfg.maxInFlight) return;
    for (const entry of deps.outbox.queued()) {
      if (inFlight.has(entry.clientMsgId)) continue;
      link.send(entry);
      inFlight.add(entry.clientMsgId);
      if (inFlight.size >= cfg.maxInFlight) return;
    }
  };

  return {
    attach(next) {
      link = next;
      inFlight = new Set();
      kick();
    },
    detach() {
      link = undefined;
    },
    kick,
  };
}
