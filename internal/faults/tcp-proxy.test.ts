import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";

let echo: net.Server;
let proxy: TcpProxy;
beforeAll(async () => {
  echo = net.createServer((s) => s.on("data", (d) => s.write(d)).on("error", () => undefined));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  proxy = await startTcpProxy({ host: "127.0.0.1", port: (echo.address() as net.AddressInfo).port });
});
afterAll(async () => {
  await proxy.close();
  echo.close();
});

/** Connects, sends "ping", and reports what came back within waitMs (or the error). */
function roundTrip(waitMs = 300): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(proxy.port, "127.0.0.1");
    let got = "";
    const done = (v: string) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(got || "silence"), waitMs);
    s.on("connect", () => s.write("ping"));
    s.on("data", (d) => {
      got += d.toString();
      if (got === "ping") done(got);
    });
    s.on("error", () => done("error"));
    s.on("close", () => done(got || "closed"));
  });
}

test.each([
  ["pass", "ping"],
  ["blackhole", "silence"],
  ["down", "closed"],
] as const)("mode %s -> %s", async (mode, expected) => {
  proxy.setMode(mode);
  const r = await roundTrip();
  expect(r === expected || (expected === "closed" && r === "error")).toBe(true);
  proxy.setMode("pass");
});

test("going down resets live connections", async () => {
  const s = net.connect(proxy.port, "127.0.0.1");
  await new Promise((r) => s.on("connect", r));
  const closed = new Promise((r) => s.on("close", r));
  s.on("error", () => undefined);
  while (proxy.connections === 0) await Bun.sleep(5);
  proxy.setMode("down");
  await closed;
  expect(proxy.connections).toBe(0);
  proxy.setMode("pass");
});

test("setTarget sends new connections to the new server and leaves live ones where they are", async () => {
  const other = net.createServer((s) => s.on("data", (d) => s.write(`other:${d}`)).on("error", () => undefined));
  await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
  const original = proxy.target;
  const live = net.connect(proxy.port, "127.0.0.1");
  live.on("error", () => undefined);
  await new Promise((r) => live.on("connect", r));
  const echoOf = (s: net.Socket, text: string) =>
    new Promise<string>((resolve) => {
      s.once("data", (d) => resolve(d.toString()));
      s.write(text);
    });
  try {
    expect(await echoOf(live, "a")).toBe("a");
    proxy.setTarget({ host: "127.0.0.1", port: (other.address() as net.AddressInfo).port });
    expect(await roundTrip()).toBe("other:ping");
    expect(await echoOf(live, "b")).toBe("b");
  } finally {
    live.destroy();
    proxy.setTarget(original);
    other.close();
  }
});
