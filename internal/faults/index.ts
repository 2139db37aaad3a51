export { startTcpProxy } from "./tcp-proxy.ts";
export type { TcpProxy, ProxyMode, ProxyTarget } from "./tcp-proxy.ts";
