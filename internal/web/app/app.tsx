import type { Transport } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "preact/hooks";
import { createIndexedDbStorage } from "../../client/index.ts";
import { ChatView } from "./chat-view.tsx";
import { openChatModel, type ChatModel } from "./chat-model.ts";
import { ConnectionBanner } from "./connection-banner.tsx";
import { ConversationList } from "./conversation-list.tsx";
import { lockDevice, type DeviceLock } from "./device-lock.ts";
import type { Credentials, DeviceSessions, SignedInDevice } from "./device-session.ts";
import { LoginView } from "./login-view.tsx";

type Phase =
  | { readonly kind: "login"; readonly notice?: string }
  | { readonly kind: "opening"; readonly device: SignedInDevice; readonly elsewhere: boolean }
  | { readonly kind: "ready"; readonly model: ChatModel }
  | { readonly kind: "taken-over"; readonly device: SignedInDevice };

/** The conversation named by the location hash (`#/chat/<id>`). */
const conversationFromHash = (hash: string): string | undefined => {
  const match = /^#\/chat\/(.+)$/.exec(hash);
  return match ? decodeURIComponent(match[1] as string) : undefined;
};

/** Re-renders the calling component after every change of the model. */
function useModelUpdates(model: ChatModel): void {
  const [, setVersion] = useState(0);
  useEffect(() => model.subscribe(() => setVersion((n) => n + 1)), [model]);
}

/** The signed-in shell: list and chat side by side, or one at a time on a phone. */
function Shell(props: { readonly model: ChatModel; readonly onLogOut: () => void }) {
  const { model } = props;
  useModelUpdates(model);
  useEffect(() => {
    const follow = (): void => model.select(conversationFromHash(location.hash));
    follow();
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, [model]);
  const selected = model.selected();
  const open = (id: string): void => {
    location.hash = `#/chat/${encodeURIComponent(id)}`;
  };
  return (
    <div class="shell" data-view={selected ? "chat" : "list"}>
      <ConnectionBanner connection={model.connection()} />
      <div class="panes">
        <ConversationList model={model} selected={selected} onOpen={open} onLogOut={props.onLogOut} />
        <main class="main-pane">
          {selected ? (
            <ChatView key={selected} model={model} conversationId={selected} />
          ) : (
            <p class="placeholder">Pick a conversation, or start one with a user name.</p>
          )}
        </main>
      </div>
    </div>
  );
}

/** The whole web client: login, then the chat shell for this browser profile's device. */
export function App(props: { readonly sessions: DeviceSessions; readonly transport: Transport }) {
  const { sessions, transport } = props;
  const [phase, setPhase] = useState<Phase>({ kind: "login" });
  const lock = useRef<DeviceLock | undefined>(undefined);
  const model = useRef<ChatModel | undefined>(undefined);

  const close = async (): Promise<void> => {
    const current = model.current;
    model.current = undefined;
    await current?.stop().catch(() => undefined);
    lock.current?.release();
    lock.current = undefined;
  };
  const signOut = async (notice?: string): Promise<void> => {
    await close();
    sessions.logOut();
    setPhase({ kind: "login", ...(notice ? { notice } : {}) });
  };
  const open = async (device: SignedInDevice, steal = false): Promise<void> => {
    await close();
    const held = lockDevice(device.deviceId, { steal });
    lock.current = held;
    let waiting = true;
    // Only say "open in another tab" if the lock does not come at once.
    setTimeout(() => waiting && setPhase({ kind: "opening", device, elsewhere: true }), 300);
    setPhase({ kind: "opening", device, elsewhere: false });
    await held.acquired;
    waiting = false;
    const opened = await openChatModel(device, {
      transport,
      storage: createIndexedDbStorage({ name: `chat-device-${device.deviceId}` }),
      window,
      onSignedOut: () => void signOut("Your session has expired. Log in again."),
    });
    if (lock.current !== held) return void opened.stop();
    model.current = opened;
    setPhase({ kind: "ready", model: opened });
    void held.lost.then(async () => {
      if (lock.current !== held) return;
      await close();
      setPhase({ kind: "taken-over", device });
    });
  };

  useEffect(() => {
    const device = sessions.current();
    if (device) void open(device);
    addEventListener("pagehide", () => void close());
  }, []);

  switch (phase.kind) {
    case "login":
      return (
        <LoginView
          initialUsername={sessions.lastUsername()}
          {...(phase.notice ? { notice: phase.notice } : {})}
          onSubmit={async (credentials: Credentials) => open(await sessions.logIn(credentials))}
        />
      );
    case "opening":
      return (
        <main class="centered" aria-busy="true">
          {phase.elsewhere ? (
            <>
              <p>This chat is open in another tab.</p>
              <button type="button" onClick={() => void open(phase.device, true)}>
                Use it here
              </button>
            </>
          ) : (
            <p>Loading…</p>
          )}
        </main>
      );
    case "taken-over":
      return (
        <main class="centered">
          <p>This chat was opened in another tab.</p>
          <button type="button" onClick={() => void open(phase.device, true)}>
            Use it here
          </button>
        </main>
      );
    case "ready":
      return <Shell model={phase.model} onLogOut={() => void signOut()} />;
  }
}
