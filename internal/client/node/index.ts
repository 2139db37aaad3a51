export { createNativeTransport } from "./native-transport.ts";
