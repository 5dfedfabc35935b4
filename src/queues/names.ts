import { Queue, type ConnectionOptions } from 'bullmq';

/** Queue names (DESIGN.md): builds and invalidations never share a queue. */
export const BUILD_QUEUE = 'relay-config-build';
export const INVALIDATE_QUEUE = 'relay-config-invalidate';

/**
 * A queue with this service's job defaults: retries with exponential backoff, completed jobs
 * removed at once (BullMQ keeps them forever otherwise), failed ones kept for a while to inspect.
 */
export function createQueue<Data, Name extends string>(
  name: string,
  connection: ConnectionOptions,
  prefix: string,
  retry: { attempts: number; backoffMs: number; keepFailedS: number },
): Queue<Data, void, Name> {
  return new Queue<Data, void, Name>(name, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: retry.attempts,
      backoff: { type: 'exponential', delay: retry.backoffMs },
      removeOnComplete: true,
      removeOnFail: { age: retry.keepFailedS, count: 1000 },
    },
  });
}
