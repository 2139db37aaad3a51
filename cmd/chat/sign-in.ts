import { ConnectError, type Transport } from "@connectrpc/connect";
import { login, register, type ClientStorage } from "../../internal/client/index.ts";

/** Who the terminal client runs as. */
export interface SignedIn {
  readonly userId: string;
  readonly username: string;
  readonly deviceId: string;
  readonly token: string;
}

/** How to sign in: flags first, then the saved device, then a prompt. */
export interface SignInOptions {
  readonly username: string;
  readonly password?: string;
  /** Create the account first. */
  readonly register: boolean;
  /** Asks the user a question (the password) when nothing else answers it. */
  readonly ask: (question: string) => Promise<string>;
}

/**
 * Signs the terminal in as one device of the user, kept in the local
 * database: a saved token starts the client without the network (so the
 * outbox fills while offline), a saved device id makes the next login the
 * same device (same cursors on the server). Only a missing or refused token
 * needs the password.
 */
export async function signIn(transport: Transport, storage: ClientStorage, opts: SignInOptions): Promise<SignedIn> {
  const saved = await storage.getDevice();
  if (saved && saved.username !== opts.username) {
    throw new Error(`this database belongs to ${saved.username}; use --db for another user`);
  }
  if (saved?.token && !opts.register && opts.password === undefined) {
    return { userId: saved.userId, username: saved.username, deviceId: saved.deviceId, token: saved.token };
  }
  const password = opts.password ?? (await opts.ask(`Password for ${opts.username}: `));
  if (opts.register) {
    await register(transport, opts.username, password).catch((err: unknown) => {
      // Registering twice (a rerun of the same command line) just logs in.
      if (!ConnectError.from(err).rawMessage.includes("USERNAME_TAKEN")) throw err;
    });
  }
  const input = { username: opts.username, password, deviceName: "cli" };
  const session = await login(transport, saved ? { ...input, deviceId: saved.deviceId } : input).catch((err: unknown) => {
    if (saved && ConnectError.from(err).rawMessage.includes("DEVICE_UNKNOWN")) {
      // The local history belongs to a server that no longer exists; mixing
      // it with a new one would show conversations that are gone.
      throw new Error(`the server no longer knows device ${saved.deviceId} (was its data reset?); start with another --db`);
    }
    throw err;
  });
  const signedIn = { userId: session.userId, username: opts.username, deviceId: session.deviceId, token: session.token };
  await storage.putDevice(signedIn);
  return signedIn;
}

/** Forgets the saved token (it was refused), keeping the device id for the next login. */
export async function forgetToken(storage: ClientStorage): Promise<void> {
  const saved = await storage.getDevice();
  if (saved) await storage.putDevice({ userId: saved.userId, username: saved.username, deviceId: saved.deviceId });
}
