import { Worker } from 'bullmq';
import { createBuildClaims } from '../caches/build-claims';
import { createConfigGenerations } from '../caches/config-generations';
import { createRedisProjectConfigCache } from '../caches/project-config-cache';
import { createWorkerRedis, type Redis } from '../caches/redis';
import { createRelayKeyCache } from '../caches/relay-key-cache';
import type { Container } from '../container';
import { BUILD_QUEUE, INVALIDATE_QUEUE } from '../queues/names';
import type { BuildJobData } from '../queues/build.queue';
import { EMAIL_VERIFICATION_QUEUE, type EmailVerificationJobData } from '../queues/email-verification.queue';
import type { InvalidateJobData } from '../queues/invalidate.queue';
import { RELAY_PRUNE_QUEUE, scheduleRelayPrune, type RelayPruneJobData } from '../queues/relay-prune.queue';
import { createBuildProcessor, releaseClaimsOfFailedJob } from './build-project-config.processor';
import type { JobDeps } from './deps';
import { createInvalidateProcessor } from './invalidate-project-config.processor';
import { createPruneRelaysProcessor } from './prune-relays.processor';
import { createRemoveUnverifiedMembersProcessor } from './remove-unverified-members.processor';

/** Invalidations run on their own worker with this concurrency, so they can never take a build slot. */
export const INVALIDATION_CONCURRENCY = 1;

export interface RunningWorkers {
  /** Stops fetching jobs, waits for the active ones, then closes the connections. */
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Which queues this process works on (default all): e.g. dedicated invalidation workers. */
  queues?: readonly ('build' | 'invalidate' | 'email-verification' | 'relay-prune')[];
}

/**
 * The processors' dependencies on a patient Redis connection: a job waits for Redis to come
 * back instead of failing at once as the API's request path does.
 */
export function workerJobDeps(container: Container, connection: Redis): JobDeps {
  const { settings, keys } = container;
  return {
    orm: container.orm,
    settings,
    generations: createConfigGenerations(connection, keys, { markerTtlMs: settings.invalidationDelayMs + 60_000 }),
    cache: createRedisProjectConfigCache(connection, keys),
    claims: createBuildClaims(connection, keys, settings.buildClaimTtlS),
    metrics: container.metrics,
    logger: container.logger,
    async buildsPending() {
      // If Redis cannot say, invalidations go on: they must not stall on a failed check.
      const counts = await container.buildQueue.getJobCounts('waiting', 'active', 'prioritized').catch(() => null);
      return counts !== null && Object.values(counts).some((n) => n > 0);
    },
  };
}

/** Starts the build and invalidation workers of one process. */
export function startWorkers(container: Container, options: WorkerOptions = {}): RunningWorkers {
  const { settings, logger, metrics } = container;
  const queues = new Set(options.queues ?? ['build', 'invalidate', 'email-verification', 'relay-prune']);
  // maxRetriesPerRequest: null, as BullMQ requires; it duplicates this connection for blocking reads.
  const connection = createWorkerRedis(settings, `relaycfg-worker-${process.pid}`);
  connection.on('error', (err) => logger.debug({ err: err.message }, 'worker redis connection error'));
  const deps = workerJobDeps(container, connection);
  const prefix = container.keys.bullPrefix;

  const workers: Worker[] = [];
  if (queues.has('build')) {
    const build = new Worker<BuildJobData>(BUILD_QUEUE, createBuildProcessor(deps), { connection, prefix, concurrency: settings.workerConcurrency });
    build.on('failed', (job, error) => void releaseClaimsOfFailedJob(deps, job, error));
    workers.push(build);
  }
  if (queues.has('invalidate')) {
    const invalidate = new Worker<InvalidateJobData>(INVALIDATE_QUEUE, createInvalidateProcessor(deps), { connection, prefix, concurrency: INVALIDATION_CONCURRENCY });
    invalidate.on('failed', (job, error) => logger.warn({ jobId: job?.id, scope: job?.data.scope, err: error.message }, 'invalidation job failed'));
    workers.push(invalidate);
  }
  if (queues.has('email-verification')) {
    // Rare and small: one at a time, apart from the config queues.
    const emailVerification = new Worker<EmailVerificationJobData>(EMAIL_VERIFICATION_QUEUE, createRemoveUnverifiedMembersProcessor(deps), { connection, prefix, concurrency: 1 });
    emailVerification.on('failed', (job, error) => logger.warn({ jobId: job?.id, organizationId: job?.data.organizationId, err: error.message }, 'email verification job failed'));
    workers.push(emailVerification);
  }
  let pruneSchedule: NodeJS.Timeout | null = null;
  if (queues.has('relay-prune')) {
    const relayKeys = createRelayKeyCache(connection, container.keys);
    const prune = new Worker<RelayPruneJobData>(RELAY_PRUNE_QUEUE, createPruneRelaysProcessor({ orm: container.orm, relayKeys, logger, pruneAfterDays: settings.relayPruneAfterDays }), { connection, prefix, concurrency: 1 });
    prune.on('failed', (job, error) => logger.warn({ jobId: job?.id, err: error.message }, 'relay prune job failed'));
    workers.push(prune);
    // The queue's connection fails fast, so a Redis that is down at start is asked again later.
    const schedule = () => {
      if (settings.relayPruneAfterDays === 0) return;
      scheduleRelayPrune(container.relayPruneQueue).then(
        () => (pruneSchedule = null),
        (error: Error) => {
          logger.warn({ err: error.message }, 'could not schedule the relay prune yet; retrying in 30 s');
          pruneSchedule = setTimeout(schedule, 30_000).unref();
        },
      );
    };
    schedule();
  }
  for (const worker of workers) worker.on('error', (err) => logger.warn({ err: err.message, queue: worker.name }, 'worker error'));

  metrics.queueDepthSource = async () => {
    const depth: Record<string, Record<string, number>> = {};
    for (const queue of [container.buildQueue, container.invalidateQueue, container.emailVerificationQueue, container.relayPruneQueue]) depth[queue.name] = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
    return depth;
  };

  logger.info({ concurrency: settings.workerConcurrency, queues: [...queues] }, 'workers started');
  return {
    async close() {
      if (pruneSchedule) clearTimeout(pruneSchedule);
      await Promise.all(workers.map((w) => w.close()));
      connection.disconnect();
    },
  };
}
