import { Code, ConnectError } from "@connectrpc/connect";
import { expect, test } from "bun:test";
import pino from "pino";
import { DomainError } from "../domain/index.ts";
import { guardService } from "./guard.ts";

const logger = pino({ enabled: false });

async function errorOf(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

test("unary, generator and hand-written streaming methods all leave with mapped errors, results untouched", async () => {
  const guarded = guardService(
    {
      unary: async (ok: boolean) => {
        if (!ok) throw new DomainError("invalid", "MALFORMED_FRAME", "bad");
        return "fine";
      },
      async *generator() {
        yield 1;
        throw new Error("secret detail");
      },
      handWritten: (): AsyncIterable<number> => {
        let n = 0;
        return {
          [Symbol.asyncIterator]: () => ({
            next: () => (n++ === 0 ? Promise.resolve({ value: 7, done: false }) : Promise.reject(new Error("secret detail"))),
          }),
        };
      },
    },
    logger,
  );
  expect(await guarded.unary(true)).toBe("fine");
  expect((await errorOf(guarded.unary(false))).code).toBe(Code.InvalidArgument);

  for (const stream of [guarded.generator(), guarded.handWritten()]) {
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    const err = await errorOf(it.next());
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).not.toContain("secret");
  }
});

test("a streaming method's iterator is returned when the call's signal aborts, even while a read waits", async () => {
  let returned = false;
  let release: (r: IteratorResult<number>) => void = () => {};
  const guarded = guardService(
    {
      stream: (_req: unknown, _ctx: { signal: AbortSignal }): AsyncIterable<number> => ({
        [Symbol.asyncIterator]: () => ({
          next: () => new Promise<IteratorResult<number>>((r) => (release = r)),
          return: () => {
            returned = true;
            release({ value: undefined, done: true });
            return Promise.resolve({ value: undefined, done: true });
          },
        }),
      }),
    },
    logger,
  );
  const call = new AbortController();
  const it = guarded.stream({}, { signal: call.signal })[Symbol.asyncIterator]();
  const waiting = it.next();
  expect(returned).toBe(false);
  call.abort();
  expect(returned).toBe(true);
  expect((await waiting).done).toBe(true);
});
