import { useLayoutEffect, useRef, useState } from "preact/hooks";
import type { ChatModel } from "./chat-model.ts";
import { presenceText } from "./format.ts";
import { MessageRow } from "./message-row.tsx";

/** How close to an edge (px) counts as "at" it. */
const EDGE_PX = 48;

/**
 * One conversation: messages in seq order (then own pending ones), older
 * history paged in when scrolled to the top, the peer's status and typing
 * in the header, and the composer.
 */
export function ChatView(props: { readonly model: ChatModel; readonly conversationId: string }) {
  const { model, conversationId } = props;
  const view = model.client.conversation(conversationId);
  const messages = model.client.messages(conversationId);
  const peerName = view?.peerUsername || "unknown user";
  const typing = model.peerTyping(conversationId);
  const status = typing ? "typing…" : presenceText(model.client.presence(view?.peerUserId ?? ""), Date.now());

  const [draft, setDraft] = useState("");
  const [loadingOlder, setLoadingOlder] = useState(false);
  const listRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const previous = useRef<{ firstKey: string | undefined; height: number }>({ firstKey: undefined, height: 0 });
  const firstKey = messages[0]?.clientMsgId;

  // After each render: keep the view pinned to the newest message, or, when
  // older messages were put above, keep what the user was looking at in place.
  useLayoutEffect(() => {
    const list = listRef.current;
    if (!list) return;
    const before = previous.current;
    if (atBottom.current) list.scrollTop = list.scrollHeight;
    else if (before.firstKey !== undefined && before.firstKey !== firstKey) list.scrollTop += list.scrollHeight - before.height;
    previous.current = { firstKey, height: list.scrollHeight };
  });

  const loadOlder = async (): Promise<void> => {
    if (loadingOlder || !view?.hasOlder) return;
    setLoadingOlder(true);
    try {
      await model.loadOlder(conversationId);
    } catch {
      // Offline or refused: the button stays, the user can try again.
    } finally {
      setLoadingOlder(false);
    }
  };
  const lastScrollTop = useRef(0);
  const onScroll = (): void => {
    const list = listRef.current;
    if (!list) return;
    atBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < EDGE_PX;
    // Only the user scrolling up asks for history, not the pin to the bottom.
    const up = list.scrollTop < lastScrollTop.current;
    lastScrollTop.current = list.scrollTop;
    if (up && list.scrollTop < EDGE_PX) void loadOlder();
  };
  const send = (): void => {
    const text = draft.trim();
    if (!text) return;
    setDraft("");
    atBottom.current = true;
    void model.send(conversationId, text);
  };

  return (
    <section class="chat" aria-labelledby="chat-title">
      <header class="chat-header">
        <a class="back" href="#/" aria-label="Back to chats">
          ‹
        </a>
        <div class="chat-title">
          <h2 id="chat-title">{peerName}</h2>
          <p class={typing ? "status typing" : "status"} aria-live="polite">
            {status}
          </p>
        </div>
      </header>
      <div class="messages" ref={listRef} onScroll={onScroll} role="log" aria-live="polite" aria-label={`Messages with ${peerName}`}>
        <ol class="message-list">
        {view?.hasOlder ? (
          <li class="older">
            <button type="button" class="link" disabled={loadingOlder} onClick={() => void loadOlder()}>
              {loadingOlder ? "Loading…" : "Load older messages"}
            </button>
          </li>
        ) : null}
        {messages.map((m) => (
          <MessageRow key={`${m.senderUserId}/${m.clientMsgId}`} message={m} onDismiss={(id) => void model.client.dismiss(id)} />
        ))}
        </ol>
      </div>
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <label for="composer-text" class="sr-only">
          Message to {peerName}
        </label>
        <textarea
          id="composer-text"
          rows={1}
          placeholder="Message"
          value={draft}
          onInput={(e) => {
            setDraft(e.currentTarget.value);
            model.composing(conversationId, e.currentTarget.value);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" aria-label="Send" disabled={draft.trim() === ""}>
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <path d="M3 20.5l18-8.5L3 3.5v6.6l12.5 1.9L3 13.9z" fill="currentColor" />
          </svg>
        </button>
      </form>
    </section>
  );
}
