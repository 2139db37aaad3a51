import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ErrorDetailSchema, ErrorReason } from "../../gen/chat/v1/types_pb.ts";
import { BackendUnavailableError, DomainError, type ErrorKind, type Reason } from "../domain/index.ts";

const CODE_OF: Record<ErrorKind, Code> = {
  invalid: Code.InvalidArgument,
  not_found: Code.NotFound,
  forbidden: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  exhausted: Code.ResourceExhausted,
  conflict: Code.AlreadyExists,
  unavailable: Code.Unavailable,
  out_of_range: Code.OutOfRange,
  internal: Code.Internal,
};

/** The wire enum value of a domain reason. */
export const wireReason = (reason: Reason): ErrorReason => ErrorReason[reason];

/** Builds a ConnectError whose message starts with the reason and which carries an ErrorDetail. */
export function connectError(code: Code, reason: Reason, message: string): ConnectError {
  return new ConnectError(`[${reason}] ${message}`, code, undefined, [
    { desc: ErrorDetailSchema, value: { reason: wireReason(reason) } },
  ]);
}

/**
 * The single place where errors become wire errors: domain errors keep their
 * code and reason; backend outages become Unavailable (retryable); anything
 * else is Internal, logged with its cause, and never described to the client.
 */
export function toConnectError(err: unknown, logger: Logger): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof DomainError) return connectError(CODE_OF[err.kind], err.reason, err.message);
  if (err instanceof BackendUnavailableError) {
    logger.warn({ err, backend: err.backend }, "backend unavailable");
    return connectError(Code.Unavailable, err.backend === "log" ? "LOG_UNAVAILABLE" : "INTERNAL", `${err.backend} is unavailable, retry`);
  }
  logger.error({ err }, "unexpected error");
  return connectError(Code.Internal, "INTERNAL", "internal error");
}

/** Connect's lower-case code name ("invalid_argument"), used in stream error events. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Reason carried by a ConnectError we raised (UNSPECIFIED for foreign ones). */
export function reasonOf(err: ConnectError): ErrorReason {
  const detail = err.findDetails(ErrorDetailSchema)[0];
  return detail?.reason ?? ErrorReason.UNSPECIFIED;
}
