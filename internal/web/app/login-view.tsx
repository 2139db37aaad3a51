import { ConnectError } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import type { Credentials } from "./device-session.ts";

/** Why a login failed, in words for the form (the server puts the reason first). */
function loginError(err: unknown): string {
  const message = ConnectError.from(err).rawMessage;
  if (message.includes("BAD_CREDENTIALS")) return "Unknown user name or wrong password.";
  if (message.includes("USERNAME_TAKEN")) return "That user name is taken.";
  if (/fetch|network|Failed/i.test(message)) return "Cannot reach the server. Check your connection.";
  return message.replace(/^\[[A-Z_]+\]\s*/, "");
}

/** Sign up / log in. This browser profile becomes (or stays) one device of the user. */
export function LoginView(props: {
  readonly initialUsername: string;
  readonly notice?: string;
  readonly onSubmit: (credentials: Credentials) => Promise<void>;
}) {
  const [username, setUsername] = useState(props.initialUsername);
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  const submit = async (create: boolean): Promise<void> => {
    if (busy) return;
    if (!username.trim() || !password) {
      setError("Enter a user name and a password.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      await props.onSubmit({ username: username.trim().toLowerCase(), password, create });
    } catch (err) {
      setError(loginError(err));
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <h1 id="login-title">Chat</h1>
      {props.notice ? <p class="notice">{props.notice}</p> : null}
      <form
        aria-labelledby="login-title"
        onSubmit={(e) => {
          e.preventDefault();
          void submit(false);
        }}
      >
        <label for="login-username">User name</label>
        <input
          id="login-username"
          name="username"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          value={username}
          onInput={(e) => setUsername(e.currentTarget.value)}
          aria-describedby="login-username-hint"
          required
        />
        <small id="login-username-hint" class="hint">
          3-32 characters: a-z, 0-9, _ . -
        </small>
        <label for="login-password">Password</label>
        <input
          id="login-password"
          name="password"
          type="password"
          autocomplete="current-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          aria-describedby="login-password-hint"
          required
        />
        <small id="login-password-hint" class="hint">
          At least 8 characters.
        </small>
        <p class="form-error" role="alert">
          {error}
        </p>
        <div class="login-actions">
          <button type="submit" disabled={busy}>
            Log in
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => void submit(true)}>
            Create account
          </button>
        </div>
      </form>
    </main>
  );
}
