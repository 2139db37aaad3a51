import type { ConnectionView } from "./chat-model.ts";

/** What the user should know about the connection, or "" when all is well. */
export function connectionText(connection: ConnectionView): string {
  if (!connection.browserOnline || connection.state === "waiting" || connection.state === "offline") {
    return "You are offline. New messages will be sent when the connection returns.";
  }
  if (connection.state === "connecting" || connection.state === "syncing") return "Connecting…";
  return "";
}

/**
 * A banner while not live. The live region always exists (empty when
 * connected) so screen readers announce both losing and regaining the
 * connection.
 */
export function ConnectionBanner(props: { readonly connection: ConnectionView }) {
  const text = connectionText(props.connection);
  const offline = text !== "" && text !== "Connecting…";
  return (
    <div
      class={text ? (offline ? "banner offline" : "banner connecting") : "banner hidden"}
      role="status"
      aria-live="polite"
      data-state={offline ? "offline" : props.connection.state}
    >
      {text}
    </div>
  );
}
