import {
  asDeviceId,
  asUserId,
  invalid,
  notFound,
  unauthenticated,
  type Clock,
  type DeviceId,
  type UserId,
} from "../domain/index.ts";
import type { AccountStore } from "../store/index.ts";
import type { TokenSigner } from "./token-signer.ts";

export interface LoginResult {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  readonly token: string;
  readonly expiresAtMs: number;
}

/** Development account management: users with passwords, devices, tokens. */
export interface Accounts {
  register(username: string, password: string): Promise<UserId>;
  login(input: { username: string; password: string; deviceId?: string; deviceName?: string }): Promise<LoginResult>;
}

const USERNAME = /^[a-z0-9_.-]{3,32}$/;

/** Builds the account logic over an AccountStore; ids come from `newId` so tests control them. */
export function createAccounts(deps: {
  store: AccountStore;
  signer: TokenSigner;
  clock: Clock;
  newId: () => string;
}): Accounts {
  const { store, signer, clock } = deps;
  return {
    async register(username, password) {
      if (!USERNAME.test(username)) {
        throw invalid("INVALID_ARGUMENT", "username must be 3-32 characters of [a-z0-9_.-]");
      }
      if (password.length < 8 || password.length > 128) {
        throw invalid("INVALID_ARGUMENT", "password must be 8-128 characters");
      }
      const id = asUserId(`u_${deps.newId()}`);
      const passwordHash = await Bun.password.hash(password, { algorithm: "bcrypt", cost: 4 });
      await store.createUser({ id, username, passwordHash, createdAtMs: clock.nowMs() });
      return id;
    },
    async login({ username, password, deviceId, deviceName }) {
      const user = await store.findUserByName(username);
      // Same answer for unknown user and wrong password: do not reveal which names exist.
      if (!user || !(await Bun.password.verify(password, user.passwordHash))) {
        throw unauthenticated("BAD_CREDENTIALS", "unknown username or wrong password");
      }
      let device: DeviceId;
      if (deviceId) {
        const existing = await store.getDevice(asDeviceId(deviceId));
        if (!existing || existing.userId !== user.id) {
          throw notFound("DEVICE_UNKNOWN", "device is not registered to this user");
        }
        device = existing.id;
      } else {
        const name = (deviceName ?? "").slice(0, 64) || "device";
        device = asDeviceId(`d_${deps.newId()}`);
        await store.createDevice({ id: device, userId: user.id, name, createdAtMs: clock.nowMs() });
      }
      const { token, expiresAtMs } = signer.issue({ userId: user.id, deviceId: device });
      return { userId: user.id, deviceId: device, token, expiresAtMs };
    },
  };
}

