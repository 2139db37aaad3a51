import { ConnectError } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import type { ConversationView } from "../../client/index.ts";
import type { ChatModel } from "./chat-model.ts";
import { presenceText, shortTime } from "./format.ts";

/** The start-a-chat form: a user name, resolved by the server. */
function NewChat(props: { readonly model: ChatModel; readonly onOpen: (conversationId: string) => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const start = async (): Promise<void> => {
    const username = name.trim();
    if (!username || busy) return;
    setBusy(true);
    setError("");
    try {
      const id = await props.model.startChat(username);
      setName("");
      props.onOpen(id);
    } catch (err) {
      const message = ConnectError.from(err).rawMessage;
      setError(
        message.includes("RECIPIENT_UNKNOWN")
          ? `No user named "${username}".`
          : message.includes("yourself")
            ? "That is you."
            : "Could not start the chat (are you online?).",
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="new-chat"
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <label for="new-chat-name">Start a chat with</label>
      <div class="row">
        <input
          id="new-chat-name"
          placeholder="user name"
          autocapitalize="none"
          spellcheck={false}
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          Start
        </button>
      </div>
      <p class="form-error" role="alert">
        {error}
      </p>
    </form>
  );
}

function ConversationItem(props: { readonly model: ChatModel; readonly view: ConversationView; readonly selected: boolean }) {
  const { model, view } = props;
  const now = Date.now();
  const presence = model.client.presence(view.peerUserId);
  const last = view.lastMessage;
  const own = last?.senderUserId === model.device.userId;
  const typing = model.peerTyping(view.conversationId);
  const name = view.peerUsername || "unknown user";
  const status = presenceText(presence, now);
  return (
    <li>
      <a
        class="conversation"
        href={`#/chat/${encodeURIComponent(view.conversationId)}`}
        aria-current={props.selected ? "page" : undefined}
        data-peer={view.peerUsername}
      >
        <span class="avatar" aria-hidden="true">
          {name.slice(0, 1).toUpperCase()}
          {presence?.online ? <span class="dot" /> : null}
        </span>
        <span class="conversation-main">
          <span class="conversation-top">
            <span class="name">{name}</span>
            {last ? <time dateTime={new Date(last.sentAtMs).toISOString()}>{shortTime(last.sentAtMs, now)}</time> : null}
          </span>
          <span class="conversation-bottom">
            <span class={typing ? "preview typing" : "preview"}>
              {typing ? "typing…" : last ? `${own ? "You: " : ""}${last.text}` : status || "No messages yet"}
            </span>
            {view.unreadCount > 0 ? (
              <span class="badge" aria-label={`${view.unreadCount} unread`}>
                {view.unreadCount}
              </span>
            ) : null}
          </span>
          {status ? <span class="sr-only">, {status}</span> : null}
        </span>
      </a>
    </li>
  );
}

/** The conversation list: newest activity first, with presence dots and unread counts. */
export function ConversationList(props: {
  readonly model: ChatModel;
  readonly selected: string | undefined;
  readonly onOpen: (conversationId: string) => void;
  readonly onLogOut: () => void;
}) {
  const { model } = props;
  const conversations = model.client.conversations();
  return (
    <nav class="sidebar" aria-label="Conversations">
      <header class="sidebar-header">
        <h1>Chats</h1>
        <span class="me" title={`device ${model.device.deviceId}`}>
          {model.device.username}
        </span>
        <button type="button" class="link" onClick={props.onLogOut}>
          Log out
        </button>
      </header>
      <NewChat model={model} onOpen={props.onOpen} />
      {conversations.length === 0 ? (
        <p class="empty">No conversations yet. Start one with a user name.</p>
      ) : (
        <ul class="conversation-list">
          {conversations.map((view) => (
            <ConversationItem key={view.conversationId} model={model} view={view} selected={view.conversationId === props.selected} />
          ))}
        </ul>
      )}
    </nav>
  );
}
