export type { MessageStore, AccountStore } from "./message-store.ts";
export { BUCKET_SPAN, bucketOf, firstSeqOf } from "./buckets.ts";
