export { createDeliveryWorker } from "./delivery-worker.ts";
export type { DeliveryWorker, DeliveryWorkerConfig } from "./delivery-worker.ts";
export { createPartitionProcessor } from "./partition-processor.ts";
export type { PartitionProcessor, PartitionProcessorDeps } from "./partition-processor.ts";
export { seqOf, GENERATION_SPAN, MAX_GENERATION } from "./sequencing.ts";
export { createPushBatch } from "./push-batch.ts";
export type { PushBatch } from "./push-batch.ts";
