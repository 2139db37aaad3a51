import { expect, test } from "bun:test";
import { loadConfig } from "../../config/index.ts";
import { OVERRIDE_ENV, overridesToEnv } from "./test-servers.ts";

const at = (o: object, path: string): unknown => path.split(".").reduce<any>((v, k) => v?.[k], o);

test.each(Object.entries(OVERRIDE_ENV))("override %s reaches a process's config through %s", (path, name) => {
  const base = at(loadConfig({}), path);
  const special: Record<string, string> = { "auth.secret": "s".repeat(40), "gateway.streamPath": "connect" };
  const value = typeof base === "number" ? base + 1 : (special[path] ?? "debug");
  const [section, field] = path.includes(".") ? path.split(".") : [path, undefined];
  const override = field ? { [section!]: { [field]: value } } : { [section!]: value };
  const env = overridesToEnv(override);
  expect(env).toEqual({ [name!]: String(value) });
  expect(at(loadConfig(env), path)).toBe(value);
});

test("an override without an environment variable throws, naming every such field", () => {
  expect(() => overridesToEnv({ dataDir: "/x", gateway: { port: 1, recentWindow: 5 }, backends: { logUrl: "embedded:" } })).toThrow(
    /dataDir, gateway\.port, backends\.logUrl/,
  );
});
