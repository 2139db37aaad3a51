import { ConnectError, type Transport } from "@connectrpc/connect";
import { login, register } from "../../client/index.ts";

/** The logged-in device of this browser profile. */
export interface SignedInDevice {
  readonly username: string;
  readonly userId: string;
  readonly deviceId: string;
  readonly token: string;
  readonly expiresAtMs: number;
}

/** Login form input; `create` registers the account first. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
  readonly create: boolean;
}

/**
 * The browser profile's identity: one device per user per profile. The
 * device id outlives logouts (the next login reuses it, so the server keeps
 * one device and its cursors); the token is dropped on logout or expiry.
 */
export interface DeviceSessions {
  current(): SignedInDevice | undefined;
  /** The last user who logged in here, to prefill the form after an expiry. */
  lastUsername(): string;
  logIn(credentials: Credentials): Promise<SignedInDevice>;
  /** Forgets the token; the device id stays for the next login. */
  logOut(): void;
}

const SESSION_KEY = "chat.session";
const DEVICES_KEY = "chat.devices";

type KnownDevices = Record<string, { userId: string; deviceId: string }>;

const parse = <T>(text: string | null): T | undefined => {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined; // a hand-edited or foreign value: start over
  }
};

/** Keeps the device identity in `storage` (localStorage in the app). */
export function createDeviceSessions(deps: {
  readonly storage: Storage;
  readonly transport: Transport;
  readonly deviceName: string;
  readonly nowMs: () => number;
}): DeviceSessions {
  const { storage } = deps;
  const known = (): KnownDevices => parse<KnownDevices>(storage.getItem(DEVICES_KEY)) ?? {};

  const logInDevice = async (username: string, password: string, deviceId: string | undefined) => {
    try {
      return await login(deps.transport, {
        username,
        password,
        deviceName: deps.deviceName,
        ...(deviceId ? { deviceId } : {}),
      });
    } catch (err) {
      // The server no longer knows this device (its data was reset): become a new one.
      if (deviceId && ConnectError.from(err).rawMessage.includes("DEVICE_UNKNOWN")) {
        return login(deps.transport, { username, password, deviceName: deps.deviceName });
      }
      throw err;
    }
  };

  return {
    current() {
      const session = parse<SignedInDevice>(storage.getItem(SESSION_KEY));
      if (!session?.token || session.expiresAtMs <= deps.nowMs()) return undefined;
      return session;
    },
    lastUsername() {
      return parse<SignedInDevice>(storage.getItem(SESSION_KEY))?.username ?? "";
    },
    async logIn({ username, password, create }) {
      if (create) await register(deps.transport, username, password);
      const devices = known();
      const device = await logInDevice(username, password, devices[username]?.deviceId);
      const session: SignedInDevice = {
        username,
        userId: device.userId,
        deviceId: device.deviceId,
        token: device.token,
        expiresAtMs: device.expiresAtMs,
      };
      storage.setItem(DEVICES_KEY, JSON.stringify({ ...devices, [username]: { userId: device.userId, deviceId: device.deviceId } }));
      storage.setItem(SESSION_KEY, JSON.stringify(session));
      return session;
    },
    logOut() {
      const session = parse<SignedInDevice>(storage.getItem(SESSION_KEY));
      if (session) storage.setItem(SESSION_KEY, JSON.stringify({ ...session, token: "", expiresAtMs: 0 }));
    },
  };
}
