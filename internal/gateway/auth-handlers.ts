import { create } from "@bufbuild/protobuf";
import {
  LoginResponseSchema,
  RegisterResponseSchema,
  type LoginRequest,
  type RegisterRequest,
} from "../../gen/chat/v1/auth_service_pb.ts";
import type { Accounts } from "../auth/index.ts";

/** AuthService: development accounts and tokens. */
export function createAuthHandlers(deps: { accounts: Accounts }) {
  return {
    async register(req: RegisterRequest) {
      const userId = await deps.accounts.register(req.username, req.password);
      return create(RegisterResponseSchema, { userId });
    },
    async login(req: LoginRequest) {
      const r = await deps.accounts.login({
        username: req.username,
        password: req.password,
        deviceId: req.deviceId,
        deviceName: req.deviceName,
      });
      return create(LoginResponseSchema, {
        userId: r.userId,
        deviceId: r.deviceId,
        token: r.token,
        expiresAtMs: BigInt(r.expiresAtMs),
      });
    },
  };
}
