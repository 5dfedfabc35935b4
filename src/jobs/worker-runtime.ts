import { Worker, type Queue } from 'bullmq';
import { createCachedConfigScan } from '../caches/config-format';
import { createConfigGenerations } from '../caches/config-generations';
import { createRedisProjectConfigCache } from '../caches/project-config-cache';
import { createWorkerRedis, type RedisClient } from '../caches/redis';
import { createRelayKeyCache } from '../caches/relay-key-cache';
import type { Container } from '../container';
import { scheduleUpgradeRecompute } from '../services/configs';
import { createBuildFailureLog } from '../caches/build-failures';
import type { JobDeps } from './deps';
import { CONFIG_FORMAT } from '../relay-config/project-config';
import { JOB_KIND_NAMES, jobKind, type JobKindName } from './registry';
import { cappedBackoff } from '../queues/queue-factory';

export interface RunningWorkers {
  /** Stops fetching jobs, waits for the active ones, then closes the connections. */
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Which job kinds this process works on (default all): e.g. dedicated invalidation workers. */
  queues?: readonly JobKindName[];
}

/**
 * The processors' dependencies on a patient Redis connection: a job waits for Redis to come
 * back instead of failing at once as the API's request path does.
 */
export function workerJobDeps(container: Container, connection: RedisClient): JobDeps {
  const { settings, layout } = container;
  return {
    orm: container.orm,
    settings,
    generations: createConfigGenerations(connection, layout, { markerTtlMs: settings.invalidationDelayMs + 60_000 }),
    cache: createRedisProjectConfigCache(connection, layout, { claimTtlS: settings.buildClaimTtlS }),
    cachedConfigs: createCachedConfigScan(connection, layout),
    relayKeys: createRelayKeyCache(connection, layout),
    buildFailures: createBuildFailureLog(connection, layout),
    metrics: container.metrics,
    logger: container.logger,
    async buildsPending() {
      // If Redis cannot say, invalidations go on: they must not stall on a failed check.
      const counts = await container.queues.build.getJobCounts('waiting', 'active', 'prioritized').catch(() => null);
      return counts !== null && Object.values(counts).some((n) => n > 0);
    },
  };
}

/**
 * A job's lock, renewed every half of it while the job runs. When its worker dies (SIGKILL, OOM,
 * a lost host), another worker finds the job stalled within one lock plus one check interval and
 * runs it again: about 15 s instead of BullMQ's default of up to a minute. No job keeps the
 * event loop busy for anywhere near 5 s (builds are ≤ 500 keys, invalidations work in chunks).
 */
export const JOB_LOCK_MS = 10_000;
export const STALLED_CHECK_MS = 5_000;

/** Starts one BullMQ worker per job kind of the registry (or of `options.queues`). */
export function startWorkers(container: Container, options: WorkerOptions = {}): RunningWorkers {
  const { settings, logger, metrics } = container;
  const kinds = options.queues ?? JOB_KIND_NAMES;
  // maxRetriesPerRequest: null, as BullMQ requires; it duplicates this connection for blocking reads.
  const connection = createWorkerRedis(settings, `relaycfg-worker-${process.pid}`);
  connection.on('error', (err: Error) => logger.debug({ err: err.message }, 'worker redis connection error'));
  const deps = workerJobDeps(container, connection);

  const workers = kinds.map((name) => {
    const kind = jobKind(name);
    const worker = new Worker(kind.queue, kind.processor(deps), {
      connection,
      prefix: container.layout.bullPrefix(kind.queue),
      concurrency: kind.concurrency(settings),
      lockDuration: JOB_LOCK_MS,
      stalledInterval: STALLED_CHECK_MS,
      ...(kind.maxStalledCount !== undefined ? { maxStalledCount: kind.maxStalledCount } : {}),
      settings: { backoffStrategy: (attemptsMade: number) => cappedBackoff(attemptsMade, kind.retention) },
    });
    worker.on('failed', (job, error) => {
      if (kind.onFailed) void Promise.resolve(kind.onFailed(deps, job, error)).catch(() => undefined);
      else logger.warn({ kind: name, jobId: job?.id, ...(job ? kind.describe(job.data) : {}), attempt: job?.attemptsMade, err: error.message }, 'job failed');
    });
    worker.on('error', (err) => logger.warn({ err: err.message, queue: worker.name }, 'worker error'));
    return worker;
  });

  // Scheduled kinds: every worker upserts the same scheduler (idempotent); the queue's connection
  // fails fast, so a Redis that is down at start is asked again later.
  const retries = new Set<NodeJS.Timeout>();
  for (const name of kinds) {
    const repeat = jobKind(name).repeat;
    if (!repeat?.enabled(settings)) continue;
    const queue = container.queues[name] as Queue;
    const schedule = () => {
      queue.upsertJobScheduler(repeat.scheduler, { every: repeat.everyMs }, { name: jobKind(name).jobName, data: repeat.data }).catch((error: Error) => {
        logger.warn({ kind: name, err: error.message }, 'could not schedule the job yet; retrying in 30 s');
        const retry = setTimeout(() => {
          retries.delete(retry);
          schedule();
        }, 30_000).unref();
        retries.add(retry);
      });
    };
    schedule();
  }

  // Configs cached by an older version are recomputed in place (never deleted) once per format.
  let closed = false;
  const checkFormat = () => {
    if (closed) return;
    scheduleUpgradeRecompute({ queues: container.queues, cachedConfigs: deps.cachedConfigs })
      .then((enqueued) => {
        if (enqueued) logger.info({ format: CONFIG_FORMAT }, 'cached configs are of an older format: recomputing them in place');
      })
      .catch((error: Error) => {
        if (closed) return;
        logger.warn({ err: error.message }, 'could not check the cached configs\' format yet; retrying in 30 s');
        const retry = setTimeout(() => {
          retries.delete(retry);
          checkFormat();
        }, 30_000).unref();
        retries.add(retry);
      });
  };
  checkFormat();

  metrics.queueDepthSource = async () => {
    const depth: Record<string, Record<string, number>> = {};
    for (const queue of Object.values(container.queues)) depth[queue.name] = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
    return depth;
  };

  // Every worker process drains the outbox: what the API committed but could not publish itself.
  container.outbox.start();

  logger.info({ concurrency: settings.workerConcurrency, queues: kinds }, 'workers started');
  return {
    async close() {
      closed = true;
      for (const retry of retries) clearTimeout(retry);
      await container.outbox.stop();
      await Promise.all(workers.map((w) => w.close()));
      connection.disconnect();
    },
  };
}
