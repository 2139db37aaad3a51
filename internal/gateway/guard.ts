import type { Logger } from "pino";
import { toConnectError } from "./error-mapping.ts";

/**
 * Wraps every method of a service implementation so that any error leaves
 * through toConnectError: typed domain errors keep their code and reason,
 * unknown ones become Internal without leaking their cause. A method that
 * returns an async iterable (a streaming method, generator or hand-written)
 * gets its iterable wrapped, and returned when the call's signal aborts
 * (connect-es does not return it while it waits for the next item); any
 * other is awaited.
 */
export function guardService<T extends Record<string, (...args: never[]) => unknown>>(impl: T, logger: Logger): T {
  const toWire = (err: unknown) => toConnectError(err, logger);
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(impl)) {
    out[name] = (...args: unknown[]) => {
      let result: unknown;
      try {
        result = (fn as (...a: unknown[]) => unknown)(...args);
      } catch (err) {
        return Promise.reject(toWire(err));
      }
      if (isAsyncIterable(result)) return mapErrors(result, toWire, signalOf(args[args.length - 1]));
      return Promise.resolve(result).catch((err: unknown) => {
        throw toWire(err);
      });
    };
  }
  return out as T;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/** The call's abort signal, when the last argument is a handler context. */
function signalOf(ctx: unknown): AbortSignal | undefined {
  const signal = (ctx as { signal?: unknown } | undefined)?.signal;
  return signal instanceof AbortSignal ? signal : undefined;
}

/**
 * The same items, with every error the iterator raises passed through `map`;
 * the iterator is returned once `signal` aborts.
 */
function mapErrors<V>(source: AsyncIterable<V>, map: (err: unknown) => unknown, signal: AbortSignal | undefined): AsyncIterable<V> {
  const rethrow = (err: unknown): never => {
    throw map(err);
  };
  return {
    [Symbol.asyncIterator]() {
      const inner = source[Symbol.asyncIterator]();
      signal?.addEventListener("abort", () => void inner.return?.().catch(() => {}), { once: true });
      return {
        next: () => inner.next().catch(rethrow),
        return: (value?: unknown) => (inner.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined })).catch(rethrow),
        throw: (e?: unknown) => (inner.throw?.(e) ?? Promise.reject(e)).catch(rethrow),
      };
    },
  };
}
