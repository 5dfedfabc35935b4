import { Queue, type ConnectionOptions } from 'bullmq';

/** Retries and retention of one kind of job (declared in the job registry). */
export interface JobRetention {
  attempts: number;
  backoffMs: number;
  keepFailedS: number;
}

/**
 * A queue with this service's job defaults: retries with exponential backoff, completed jobs
 * removed at once (BullMQ keeps them forever otherwise), failed ones kept for a while to inspect.
 */
export function createQueue<Data, Name extends string>(name: string, connection: ConnectionOptions, prefix: string, retention: JobRetention): Queue<Data, void, Name> {
  return new Queue<Data, void, Name>(name, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: retention.attempts,
      backoff: { type: 'exponential', delay: retention.backoffMs },
      removeOnComplete: true,
      removeOnFail: { age: retention.keepFailedS, count: 1000 },
    },
  });
}
