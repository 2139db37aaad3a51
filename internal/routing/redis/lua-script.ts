import type { ChainableCommander, Redis } from "ioredis";

/**
 * A server-side script: the unit of atomicity of the Redis adapters (a
 * compare-and-delete or a read-modify-write must not interleave with
 * another gateway's write).
 */
export interface LuaScript {
  /** Becomes a method of the client and of its pipelines. */
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

/**
 * Lua prelude: the server's clock in ms. TTL scores are written and read on
 * the server's clock, so gateways and workers whose clocks disagree still
 * agree on what has expired. (Redis 7 replicates a script's effects, so
 * TIME before a write is allowed.)
 */
export const LUA_NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Registers scripts on a client. ioredis then sends each as EVAL the first
 * time a socket uses it and as EVALSHA afterwards, also inside pipelines,
 * and reloads it after NOSCRIPT; so a restarted server needs nothing from us.
 */
export function defineScripts(client: Redis, scripts: readonly LuaScript[]): void {
  for (const script of scripts) {
    client.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
}

type ScriptMethod = (...args: Array<string | number>) => unknown;

/**
 * Calls a script defined by {@link defineScripts}: on a client it answers the
 * reply; on a pipeline it queues the call (the reply comes from exec).
 */
export function callScript(
  target: Redis | ChainableCommander,
  script: LuaScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): unknown {
  if (keys.length !== script.numberOfKeys) {
    throw new RangeError(`script ${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  // defineCommand adds methods that ioredis's static types cannot know of.
  const method = (target as unknown as Record<string, ScriptMethod | undefined>)[script.name];
  if (method === undefined) throw new Error(`script ${script.name} is not defined on this client`);
  return method.call(target, ...keys, ...args);
}
