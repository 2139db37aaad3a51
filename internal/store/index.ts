export type { MessageStore, AccountStore } from "./message-store.ts";
