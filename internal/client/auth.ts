import { createClient } from "@connectrpc/connect";
import type { Transport } from "@connectrpc/connect";
import { AuthService } from "../../gen/chat/v1/auth_service_pb.ts";

/** Identity of a logged-in device. */
export interface DeviceSession {
  readonly userId: string;
  readonly deviceId: string;
  readonly token: string;
  readonly expiresAtMs: number;
}

/** Login input; omit deviceId to register a new device of the user. */
export interface LoginInput {
  readonly username: string;
  readonly password: string;
  readonly deviceId?: string;
  readonly deviceName?: string;
}

/** A fixed token, or a function asked before every call (for refreshed tokens). */
export type TokenSource = string | (() => string | Promise<string>);

/** Creates an account; rejects with ConnectError already_exists / USERNAME_TAKEN when taken. */
export async function register(transport: Transport, username: string, password: string): Promise<{ userId: string }> {
  const response = await createClient(AuthService, transport).register({ username, password });
  return { userId: response.userId };
}

/** Logs a device in and returns its bearer token. */
export async function login(transport: Transport, input: LoginInput): Promise<DeviceSession> {
  const response = await createClient(AuthService, transport).login({
    username: input.username,
    password: input.password,
    deviceId: input.deviceId ?? "",
    deviceName: input.deviceName ?? "",
  });
  return {
    userId: response.userId,
    deviceId: response.deviceId,
    token: response.token,
    expiresAtMs: Number(response.expiresAtMs),
  };
}

/**
 * Wraps a transport so that every call carries `authorization: Bearer
 * <token>`: the interceptor applied at the transport boundary, because the
 * application builds the transport (gRPC or Connect-Web) and the SDK must
 * work with whichever it gets.
 */
export function withBearerToken(transport: Transport, token: TokenSource): Transport {
  const headerWithToken = async (init: HeadersInit | undefined): Promise<Headers> => {
    const header = new Headers(init);
    header.set("authorization", `Bearer ${typeof token === "string" ? token : await token()}`);
    return header;
  };
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      return transport.unary(method, signal, timeoutMs, await headerWithToken(header), input, contextValues);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      return transport.stream(method, signal, timeoutMs, await headerWithToken(header), input, contextValues);
    },
  };
}
