import net from "node:net";

/** How the proxy treats traffic right now. */
export type ProxyMode =
  /** Forward bytes both ways. */
  | "pass"
  /** Reset every connection and refuse new ones (network cut, airplane mode). */
  | "down"
  /** Keep connections open but drop every byte both ways (half-open peer, no FIN). */
  | "blackhole";

/**
 * A TCP proxy on 127.0.0.1 in front of a server, for tests that need the
 * network to fail: cut it, blackhole it (a peer that vanished without FIN),
 * or add latency. Loopback only.
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  setMode(mode: ProxyMode): void;
  /** Extra one-way delay per chunk, both directions. */
  setDelayMs(ms: number): void;
  /** Live client connections. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = "pass";
  let delayMs = 0;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  const relay = (from: net.Socket, to: net.Socket) => {
    from.on("data", (chunk) => {
      if (mode === "blackhole") return;
      if (delayMs > 0) setTimeout(() => to.writable && to.write(chunk), delayMs);
      else if (to.writable) to.write(chunk);
    });
  };

  const server = net.createServer((client) => {
    if (mode === "down") {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    relay(client, upstream);
    relay(upstream, client);
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    setMode(next) {
      mode = next;
      if (next === "down") {
        for (const p of pairs) {
          p.client.resetAndDestroy();
          p.upstream.destroy();
        }
        pairs.clear();
      }
    },
    setDelayMs(ms) {
      delayMs = ms;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
