import { Worker } from 'bullmq';
import { createWorkerRedis } from '../caches/redis';
import type { Container } from '../container';
import { BUILD_QUEUE, INVALIDATE_QUEUE } from '../queues/names';
import type { BuildJobData } from '../queues/build.queue';
import { EMAIL_VERIFICATION_QUEUE, type EmailVerificationJobData } from '../queues/email-verification.queue';
import type { InvalidateJobData } from '../queues/invalidate.queue';
import { createBuildProcessor, releaseClaimsOfFailedJob } from './build-project-config.processor';
import type { JobDeps } from './deps';
import { createInvalidateProcessor } from './invalidate-project-config.processor';
import { createRemoveUnverifiedMembersProcessor } from './remove-unverified-members.processor';

/** Invalidations run on their own worker with this concurrency, so they can never take a build slot. */
export const INVALIDATION_CONCURRENCY = 1;

export interface RunningWorkers {
  /** Stops fetching jobs, waits for the active ones, then closes the connections. */
  close(): Promise<void>;
}

/** Starts the build and invalidation workers of one process. */
export function startWorkers(container: Container): RunningWorkers {
  const { settings, logger, metrics } = container;
  const deps: JobDeps = {
    orm: container.orm,
    settings,
    generations: container.generations,
    cache: container.configCache,
    claims: container.buildClaims,
    metrics,
    logger,
  };
  // Workers wait patiently for Redis (maxRetriesPerRequest: null); BullMQ duplicates this
  // connection for its blocking reads.
  const connection = createWorkerRedis(settings, `relaycfg-worker-${process.pid}`);
  connection.on('error', (err) => logger.debug({ err: err.message }, 'worker redis connection error'));
  const prefix = container.keys.bullPrefix;

  const build = new Worker<BuildJobData>(BUILD_QUEUE, createBuildProcessor(deps), { connection, prefix, concurrency: settings.workerConcurrency });
  build.on('failed', (job, error) => void releaseClaimsOfFailedJob(deps, job, error));
  const invalidate = new Worker<InvalidateJobData>(INVALIDATE_QUEUE, createInvalidateProcessor(deps), { connection, prefix, concurrency: INVALIDATION_CONCURRENCY });
  invalidate.on('failed', (job, error) => logger.warn({ jobId: job?.id, scope: job?.data.scope, err: error.message }, 'invalidation job failed'));
  // Rare and small: one at a time, apart from the config queues.
  const emailVerification = new Worker<EmailVerificationJobData>(EMAIL_VERIFICATION_QUEUE, createRemoveUnverifiedMembersProcessor(deps), { connection, prefix, concurrency: 1 });
  emailVerification.on('failed', (job, error) => logger.warn({ jobId: job?.id, organizationId: job?.data.organizationId, err: error.message }, 'email verification job failed'));
  for (const worker of [build, invalidate, emailVerification]) worker.on('error', (err) => logger.warn({ err: err.message, queue: worker.name }, 'worker error'));

  metrics.queueDepthSource = async () => {
    const depth: Record<string, Record<string, number>> = {};
    for (const queue of [container.buildQueue, container.invalidateQueue, container.emailVerificationQueue]) depth[queue.name] = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
    return depth;
  };

  logger.info({ concurrency: settings.workerConcurrency }, 'workers started');
  return {
    async close() {
      await Promise.all([build.close(), invalidate.close(), emailVerification.close()]);
      connection.disconnect();
    },
  };
}
