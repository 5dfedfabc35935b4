import { Queue, type ConnectionOptions } from 'bullmq';

/** Retries of one kind of job (declared in the job registry). */
export interface JobRetention {
  attempts: number;
  backoffMs: number;
  /** The longest wait between two attempts (the backoff doubles up to it). */
  maxBackoffMs?: number;
}

/** The backoff of every job: doubling from the kind's first delay up to its cap (worker-runtime.ts). */
export const CAPPED_EXPONENTIAL = 'capped-exponential';

/** Milliseconds before the next attempt of a job that failed `attemptsMade` times. */
export function cappedBackoff(attemptsMade: number, retention: JobRetention): number {
  const delay = retention.backoffMs * 2 ** Math.max(0, Math.min(attemptsMade - 1, 30));
  return Math.min(delay, retention.maxBackoffMs ?? Number.MAX_SAFE_INTEGER);
}

/** How long finished jobs stay visible in Bull Board (`JOBS_KEEP_COMPLETED_S`, `…_COUNT`, `JOBS_KEEP_FAILED_S`). */
export interface JobHistory {
  keepCompletedS: number;
  keepCompletedCount: number;
  keepFailedS: number;
}

/** Failed jobs kept at most (besides their age): a failure storm must not fill Redis. */
const MAX_FAILED_KEPT = 10_000;

/**
 * A queue with this service's job defaults: retries with exponential backoff, finished jobs kept
 * for the operator's history window (BullMQ keeps them forever otherwise, or not at all with
 * `removeOnComplete: true`), failed ones longer, to inspect.
 */
export function createQueue<Data, Name extends string>(name: string, connection: ConnectionOptions, prefix: string, retention: JobRetention, history: JobHistory): Queue<Data, void, Name> {
  return new Queue<Data, void, Name>(name, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: retention.attempts,
      backoff: { type: CAPPED_EXPONENTIAL, delay: retention.backoffMs },
      // Age 0 or count 0 means "keep none", as the settings say.
      removeOnComplete: history.keepCompletedS === 0 || history.keepCompletedCount === 0 ? true : { age: history.keepCompletedS, count: history.keepCompletedCount },
      removeOnFail: history.keepFailedS === 0 ? true : { age: history.keepFailedS, count: MAX_FAILED_KEPT },
    },
  });
}
