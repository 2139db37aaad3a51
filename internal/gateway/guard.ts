import type { Logger } from "pino";
import { toConnectError } from "./error-mapping.ts";

/**
 * Wraps every method of a service implementation so that any error leaves
 * through toConnectError: typed domain errors keep their code and reason,
 * unknown ones become Internal without leaking their cause.
 */
export function guardService<T extends Record<string, (...args: never[]) => unknown>>(impl: T, logger: Logger): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(impl)) {
    const isGenerator = Object.prototype.toString.call(fn) === "[object AsyncGeneratorFunction]";
    out[name] = isGenerator
      ? async function* (...args: unknown[]) {
          try {
            yield* (fn as (...a: unknown[]) => AsyncGenerator<unknown>)(...args);
          } catch (err) {
            throw toConnectError(err, logger);
          }
        }
      : async (...args: unknown[]) => {
          try {
            return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
          } catch (err) {
            throw toConnectError(err, logger);
          }
        };
  }
  return out as T;
}
