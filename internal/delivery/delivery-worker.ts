import type { Logger } from "pino";
import type { MessageLog } from "../log/index.ts";
import { createPartitionProcessor, type PartitionProcessorDeps } from "./partition-processor.ts";

export interface DeliveryWorkerConfig {
  /** Consumer group of all workers (one owner per partition). */
  readonly groupId: string;
  readonly memberId: string;
  /** Topic generation, the high part of every seq. */
  readonly generation: number;
}

/** A worker process's main loop: consume owned partitions, sequence, store, push. */
export interface DeliveryWorker {
  run(signal: AbortSignal): Promise<void>;
}

export function createDeliveryWorker(
  cfg: DeliveryWorkerConfig,
  deps: PartitionProcessorDeps & { readonly log: MessageLog; readonly logger: Logger },
): DeliveryWorker {
  const logger = deps.logger.child({ component: "worker", memberId: cfg.memberId });
  const processor = createPartitionProcessor({ generation: cfg.generation }, { ...deps, logger });
  return {
    run(signal) {
      return deps.log.consume(
        {
          groupId: cfg.groupId,
          memberId: cfg.memberId,
          handler: (batch) => processor.handleBatch(batch),
          onAssigned: (partitions) => {
            processor.reset(partitions);
            logger.info({ partitions }, "partitions assigned");
          },
          onRevoked: (partitions) => {
            processor.reset(partitions);
            logger.info({ partitions }, "partitions revoked");
          },
        },
        signal,
      );
    },
  };
}
