export { startTcpProxy } from "./tcp-proxy.ts";
export type { TcpProxy, ProxyMode } from "./tcp-proxy.ts";
