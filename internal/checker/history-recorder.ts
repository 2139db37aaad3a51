import type { ChatClient, ChatEvent } from "../client/index.ts";
import type { History, HistoryConversation, HistoryDevice, Observation, SendRecord } from "./history.ts";

/** Counts of what devices went through, for the report (not verified). */
export interface RecorderStats {
  /** Streams that ended with a failure and were reopened. */
  readonly reconnects: number;
  /** Refusals and deferrals by ErrorReason name (RATE_LIMITED, SLOW_CONSUMER, ...). */
  readonly serverErrors: Readonly<Record<string, number>>;
  readonly gapsUnfilled: number;
  readonly resets: number;
  readonly sentAcked: number;
}

/** Records every client-side observation of a run, across device restarts. */
export interface HistoryRecorder {
  addConversation(conversation: HistoryConversation): void;
  addDevice(device: HistoryDevice): void;
  /** The driver composed a message (call in composition order). */
  composed(send: { readonly clientMsgId: string; readonly conversationId: string; readonly deviceId: string }): void;
  /** A message sent outside the SDK (raw API calls, retried by hand) that the server accepted: composed and "sent". */
  sentOutside(send: { readonly clientMsgId: string; readonly conversationId: string; readonly deviceId: string }): void;
  fault(description: string): void;
  /** Listens to one incarnation of a device's client; returns the function that stops listening. */
  attach(deviceId: string, client: ChatClient): () => void;
  stats(): RecorderStats;
  /** What was recorded so far (the end state is added by the caller). */
  snapshot(): Pick<History, "conversations" | "devices" | "sends" | "observations">;
}

interface SendOutcome {
  sentAck: boolean;
  resultSeq?: number;
  failed?: string;
}

/** Creates an empty recorder; `clock` stamps observations. */
export function createHistoryRecorder(deps: { readonly clock: { nowMs(): number } }): HistoryRecorder {
  const conversations: HistoryConversation[] = [];
  const devices: HistoryDevice[] = [];
  // Composition order; outcomes are kept apart because a "sent" tick can
  // arrive before the driver's send() call has returned the client id.
  const composedSends: { clientMsgId: string; conversationId: string; deviceId: string }[] = [];
  const outcomes = new Map<string, SendOutcome>();
  const observations: Observation[] = [];
  const serverErrors: Record<string, number> = {};
  let reconnects = 0;
  let gapsUnfilled = 0;
  let resets = 0;

  const outcomeOf = (clientMsgId: string): SendOutcome => {
    let outcome = outcomes.get(clientMsgId);
    if (!outcome) outcomes.set(clientMsgId, (outcome = { sentAck: false }));
    return outcome;
  };

  const onSend = (client: ChatClient, event: Extract<ChatEvent, { type: "send" }>): void => {
    if (event.tick === "pending") return;
    const outcome = outcomeOf(event.clientMsgId);
    // Newest first: a local send sits at the tail of the view.
    const view = client.messages(event.conversationId).findLast((m) => m.clientMsgId === event.clientMsgId);
    if (event.tick === "failed") {
      outcome.failed = view?.failure ?? "UNSPECIFIED";
      return;
    }
    outcome.sentAck = true;
    if (outcome.resultSeq === undefined && view?.seq !== undefined) outcome.resultSeq = view.seq;
  };

  const onReceipt = (deviceId: string, client: ChatClient, event: Extract<ChatEvent, { type: "receipt" }>): void => {
    const { conversationId, userId } = event.receipt;
    // The view (what the user sees), not the raw event: the SDK merges each
    // event into the held watermarks, and that merged value must never drop.
    const shown = client.receipts(conversationId);
    const watermarks = userId === client.userId ? shown.own : shown.peer;
    if (!watermarks) return;
    observations.push({ kind: "receipt", atMs: deps.clock.nowMs(), deviceId, conversationId, userId, ...watermarks });
  };

  return {
    addConversation: (c) => void conversations.push(c),
    addDevice: (d) => void devices.push(d),
    composed: (send) => void composedSends.push({ ...send }),
    sentOutside(send) {
      composedSends.push({ ...send });
      outcomeOf(send.clientMsgId).sentAck = true;
    },
    fault: (description) => void observations.push({ kind: "fault", atMs: deps.clock.nowMs(), description }),
    attach(deviceId, client) {
      return client.on((event) => {
        const atMs = deps.clock.nowMs();
        switch (event.type) {
          case "messages":
            for (const m of event.messages) {
              const { conversationId, seq, prevSeq, clientMsgId } = m;
              observations.push({ kind: "message", atMs, deviceId, conversationId, seq, prevSeq, clientMsgId });
            }
            return;
          case "send":
            return onSend(client, event);
          case "receipt":
            return onReceipt(deviceId, client, event);
          case "reset":
            resets++;
            observations.push({ kind: "reset", atMs, deviceId, conversationId: event.conversationId });
            return;
          case "connection":
            if (event.state === "waiting" && event.failure) reconnects++;
            return;
          case "server-error":
            serverErrors[event.reason] = (serverErrors[event.reason] ?? 0) + 1;
            return;
          case "gap-unfilled":
            gapsUnfilled++;
            return;
          default:
            return;
        }
      });
    },
    stats() {
      let sentAcked = 0;
      for (const s of composedSends) if (outcomes.get(s.clientMsgId)?.sentAck) sentAcked++;
      return { reconnects, serverErrors: { ...serverErrors }, gapsUnfilled, resets, sentAcked };
    },
    snapshot() {
      const sends = composedSends.map((s): SendRecord => {
        const o = outcomes.get(s.clientMsgId);
        return {
          ...s,
          sentAck: o?.sentAck ?? false,
          ...(o?.resultSeq === undefined ? {} : { resultSeq: o.resultSeq }),
          ...(o?.failed === undefined ? {} : { failed: o.failed }),
        };
      });
      return { conversations: [...conversations], devices: [...devices], sends, observations: [...observations] };
    },
  };
}
