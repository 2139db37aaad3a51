import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason } from "../../gen/chat/v1/types_pb.ts";

/**
 * Reasons that say "not now" rather than "never": the same request may
 * succeed later (after a backoff, a reconnect or a new token), so a message
 * refused for one of these must stay in the outbox.
 */
const retryableReasons: ReadonlySet<ErrorReason> = new Set([
  ErrorReason.RATE_LIMITED,
  ErrorReason.SLOW_CONSUMER,
  ErrorReason.SHUTTING_DOWN,
  ErrorReason.LOG_UNAVAILABLE,
  ErrorReason.SESSION_REPLACED,
  ErrorReason.TOO_MANY_CONNECTIONS,
  ErrorReason.HEARTBEAT_TIMEOUT,
  ErrorReason.INTERNAL,
  ErrorReason.TOKEN_MISSING,
  ErrorReason.TOKEN_INVALID,
  ErrorReason.TOKEN_EXPIRED,
]);

/**
 * Codes that refuse the request itself (its content or its target). Every
 * other code (unavailable, deadline, internal, unknown network failures,
 * unauthenticated, ...) is treated as transient: losing a message the user
 * wrote is worse than retrying a request that cannot succeed.
 */
const refusalCodes: ReadonlySet<Code> = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.FailedPrecondition,
  Code.OutOfRange,
]);

/** A code's wire name, as stream errors carry it ("invalid_argument"). */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (ch, at: number) => (at > 0 ? "_" : "") + ch.toLowerCase());
}

const codeByName: ReadonlyMap<string, Code> = new Map(
  Object.values(Code)
    .filter((c): c is Code => typeof c === "number")
    .map((c) => [codeName(c), c]),
);

/** The machine-readable reason attached to an API error (UNSPECIFIED if none). */
export function errorReasonOf(err: unknown): ErrorReason {
  if (!(err instanceof ConnectError)) return ErrorReason.UNSPECIFIED;
  return err.findDetails(ErrorDetailSchema)[0]?.reason ?? ErrorReason.UNSPECIFIED;
}

/** The reason's name without prefix ("BODY_TOO_LARGE"), as kept on failed sends. */
export function reasonName(reason: ErrorReason): string {
  return ErrorReason[reason] ?? `REASON_${reason}`;
}

/**
 * True when the server refused a request for good (bad content, unknown or
 * forbidden target): retrying the same request cannot succeed.
 */
export function isRefusal(reason: ErrorReason, code: Code | undefined): boolean {
  if (retryableReasons.has(reason)) return false;
  if (reason !== ErrorReason.UNSPECIFIED) return true;
  return code !== undefined && refusalCodes.has(code);
}

/** isRefusal for an error thrown by a call. */
export function isRefusalError(err: unknown): boolean {
  const error = ConnectError.from(err);
  return isRefusal(errorReasonOf(error), error.code);
}

/** isRefusal for a StreamError event (code given by name). */
export function isRefusalEvent(event: { reason: ErrorReason; code: string }): boolean {
  return isRefusal(event.reason, codeByName.get(event.code));
}
