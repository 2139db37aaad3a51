import type { MessageView, Tick } from "../../client/index.ts";
import { clock, tickLabel } from "./format.ts";

/** Clock for pending, one tick for sent, two for delivered, two blue for read. */
function TickIcon(props: { readonly tick: Tick }) {
  const { tick } = props;
  const label = tickLabel[tick];
  if (tick === "pending") {
    return (
      <svg class="tick pending" role="img" aria-label={label} viewBox="0 0 16 16" width="16" height="16">
        <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="1.5" />
        <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
      </svg>
    );
  }
  if (tick === "failed") {
    return (
      <svg class="tick failed" role="img" aria-label={label} viewBox="0 0 16 16" width="16" height="16">
        <circle cx="8" cy="8" r="7" fill="currentColor" />
        <path d="M8 4v5M8 11.5v.5" stroke="#fff" stroke-width="1.8" stroke-linecap="round" />
      </svg>
    );
  }
  const double = tick === "delivered" || tick === "read";
  return (
    <svg class={`tick ${tick}`} role="img" aria-label={label} viewBox="0 0 20 16" width="20" height="16">
      <path d="M1.5 8.5l3.5 3.5 7-8" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" />
      {double ? (
        // The second tick's short leg hides behind the first, as messengers draw it.
        <path d="M9.5 11.2l.8.8 7-8" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" />
      ) : null}
    </svg>
  );
}

/** One message bubble; own messages carry their tick. */
export function MessageRow(props: { readonly message: MessageView; readonly onDismiss: (clientMsgId: string) => void }) {
  const { message } = props;
  const tick = message.own ? (message.tick ?? "pending") : undefined;
  return (
    <li
      class={message.own ? "message own" : "message"}
      data-client-msg-id={message.clientMsgId}
      data-seq={message.seq}
      data-tick={tick}
    >
      <span class="sr-only">{message.own ? "You: " : "Them: "}</span>
      <span class="text">{message.text}</span>
      <span class="meta">
        {message.sentAtMs ? <time dateTime={new Date(message.sentAtMs).toISOString()}>{clock(message.sentAtMs)}</time> : null}
        {tick ? <TickIcon tick={tick} /> : null}
      </span>
      {tick === "failed" ? (
        <span class="failure">
          Not sent ({message.failure ?? "refused"}).{" "}
          <button type="button" class="link" onClick={() => props.onDismiss(message.clientMsgId)}>
            Dismiss
          </button>
        </span>
      ) : null}
    </li>
  );
}
