import net from "node:net";

/** How the proxy treats traffic right now. */
export type ProxyMode =
  /** Forward bytes both ways. */
  | "pass"
  /** Reset every connection and refuse new ones (network cut, airplane mode). */
  | "down"
  /** Keep connections open but drop every byte both ways (half-open peer, no FIN). */
  | "blackhole";

/** Where the proxy forwards to. */
export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a server, for tests that need the
 * network to fail: cut it, blackhole it (a peer that vanished without FIN),
 * add latency, or point it at another server (a load balancer moving its
 * clients after a backend died). Loopback only.
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  setMode(mode: ProxyMode): void;
  /** Extra one-way delay per chunk, both directions. */
  setDelayMs(ms: number): void;
  /**
   * New connections go to `next`; live ones stay where they are (as behind a
   * load balancer), so cut them with setMode("down") to move them at once.
   */
  setTarget(next: ProxyTarget): void;
  readonly target: ProxyTarget;
  /** Live client connections. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(initial: ProxyTarget): Promise<TcpProxy> {
  let target: ProxyTarget = { host: initial.host, port: initial.port };
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
    setTarget(next) {
      target = { host: next.host, port: next.port };
    },
    get target() {
      return target;
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
