import { createHmac, timingSafeEqual } from "node:crypto";
import { asDeviceId, asUserId, unauthenticated, type Clock, type DeviceId, type UserId } from "../domain/index.ts";

/** Who is calling: the user and the device the token was issued to. */
export interface Identity {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
}

export interface TokenSigner {
  /** Issues a token for the device, valid for the configured TTL. */
  issue(identity: Identity): { token: string; expiresAtMs: number };
  /** Verifies signature and expiry; throws DomainError TOKEN_INVALID / TOKEN_EXPIRED. */
  verify(token: string): Identity;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/**
 * Bearer tokens: `v1.<base64url(json payload)>.<base64url(hmac-sha256)>`.
 * Stateless, so any gateway verifies them with the shared key.
 */
export function createTokenSigner(cfg: { secret: string; ttlMs: number }, deps: { clock: Clock }): TokenSigner {
  const key = Buffer.from(cfg.secret, "utf8");
  const sign = (body: string) => createHmac("sha256", key).update(body).digest();

  return {
    issue(identity) {
      const expiresAtMs = deps.clock.nowMs() + cfg.ttlMs;
      const body = `v1.${b64(JSON.stringify({ u: identity.userId, d: identity.deviceId, exp: expiresAtMs }))}`;
      return { token: `${body}.${b64(sign(body))}`, expiresAtMs };
    },
    verify(token) {
      const parts = token.split(".");
      if (parts.length !== 3 || parts[0] !== "v1" || token.length > 2048) {
        throw unauthenticated("TOKEN_INVALID", "token is malformed");
      }
      const body = `${parts[0]}.${parts[1]}`;
      const given = Buffer.from(parts[2] ?? "", "base64url");
      const expected = sign(body);
      // Constant-time comparison: a forged token must not learn the signature byte by byte.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw unauthenticated("TOKEN_INVALID", "token signature does not verify");
      }
      let payload: { u?: unknown; d?: unknown; exp?: unknown };
      try {
        payload = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8"));
      } catch {
        throw unauthenticated("TOKEN_INVALID", "token payload is malformed");
      }
      if (typeof payload.u !== "string" || typeof payload.d !== "string" || typeof payload.exp !== "number") {
        throw unauthenticated("TOKEN_INVALID", "token payload is malformed");
      }
      if (payload.exp <= deps.clock.nowMs()) throw unauthenticated("TOKEN_EXPIRED", "token has expired");
      return { userId: asUserId(payload.u), deviceId: asDeviceId(payload.d) };
    },
  };
}
