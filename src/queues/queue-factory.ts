import { Queue, type ConnectionOptions } from 'bullmq';

/** Retries and retention of one kind of job (declared in the job registry). */
export interface JobRetention {
  attempts: number;
  backoffMs: number;
  /** The longest wait between two attempts (the backoff doubles up to it). */
  maxBackoffMs?: number;
  keepFailedS: number;
}

/** The backoff of every job: doubling from the kind's first delay up to its cap (worker-runtime.ts). */
export const CAPPED_EXPONENTIAL = 'capped-exponential';

/** Milliseconds before the next attempt of a job that failed `attemptsMade` times. */
export function cappedBackoff(attemptsMade: number, retention: JobRetention): number {
  const delay = retention.backoffMs * 2 ** Math.max(0, Math.min(attemptsMade - 1, 30));
  return Math.min(delay, retention.maxBackoffMs ?? Number.MAX_SAFE_INTEGER);
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
      backoff: { type: CAPPED_EXPONENTIAL, delay: retention.backoffMs },
      removeOnComplete: true,
      removeOnFail: { age: retention.keepFailedS, count: 1000 },
    },
  });
}
