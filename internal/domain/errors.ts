/**
 * Typed domain errors. Only the gateway edge maps them to ConnectError codes
 * (internal/gateway/error-mapping.ts); everything inside throws these.
 */
export type Reason =
  | "MALFORMED_FRAME"
  | "BODY_TOO_LARGE"
  | "BODY_EMPTY"
  | "INVALID_UTF8"
  | "CONVERSATION_UNKNOWN"
  | "NOT_A_PARTICIPANT"
  | "IDENTITY_MISMATCH"
  | "SEQ_BEYOND_HEAD"
  | "TOKEN_MISSING"
  | "TOKEN_INVALID"
  | "TOKEN_EXPIRED"
  | "RATE_LIMITED"
  | "SLOW_CONSUMER"
  | "RECIPIENT_UNKNOWN"
  | "INVALID_ARGUMENT"
  | "USERNAME_TAKEN"
  | "BAD_CREDENTIALS"
  | "DEVICE_UNKNOWN"
  | "HELLO_REQUIRED"
  | "SHUTTING_DOWN"
  | "LOG_UNAVAILABLE"
  | "NOT_A_PEER"
  | "SESSION_REPLACED"
  | "TOO_MANY_CONNECTIONS"
  | "INTERNAL"
  | "HEARTBEAT_TIMEOUT";

/** The kind of failure, independent of transport; mapped to a Connect code at the edge. */
export type ErrorKind =
  | "invalid"
  | "not_found"
  | "forbidden"
  | "unauthenticated"
  | "exhausted"
  | "conflict"
  | "unavailable"
  | "out_of_range"
  | "internal";

/** A refusal the client can act on: a kind, a machine-readable reason, a human message. */
export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly reason: Reason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DomainError";
  }
}

/** A backend (log, store, routing) is temporarily unreachable; the caller may retry. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "BackendUnavailableError";
  }
}

export const invalid = (reason: Reason, message: string) => new DomainError("invalid", reason, message);
export const forbidden = (reason: Reason, message: string) => new DomainError("forbidden", reason, message);
export const notFound = (reason: Reason, message: string) => new DomainError("not_found", reason, message);
export const unauthenticated = (reason: Reason, message: string) =>
  new DomainError("unauthenticated", reason, message);
