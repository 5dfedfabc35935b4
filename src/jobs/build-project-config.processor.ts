import type { Job } from 'bullmq';
import { computeOptionsOf, computeProjectConfigs, reportConfigFailures } from '../db/compute-configs';
import { countQueries } from '../db/query-counter';
import type { BuildJobData } from '../queues/build.queue';
import type { JobDeps } from './deps';

/**
 * Builds the configs of the keys one request claimed: one forked EntityManager, one batched load,
 * then every config written in one Redis script that also releases the claims — after the writes,
 * so a request can never miss the cache and win a claim for a key that was just built. Unknown or
 * inactive keys are written as `{"disabled":true}`, not skipped.
 *
 * A key whose config cannot be computed fails alone: the others are written, it is counted and
 * logged, and nothing is cached for it. Its claim is not released: it expires after the claim
 * TTL, so Relay's polls meanwhile see a build in flight (no rebuild every 100 ms), and the first
 * poll after that schedules a fresh attempt (which succeeds once the data is fixed).
 */
export function createBuildProcessor(deps: JobDeps) {
  return async (job: Job<BuildJobData>): Promise<void> => {
    const { publicKeys, claimToken } = job.data;
    const timer = deps.metrics.buildJobDuration.startTimer({ queue: 'build' });
    const startedAt = await deps.cache.generation();
    const em = deps.orm.em.fork();
    const { result: computed, queries } = await countQueries(() => computeProjectConfigs(em, publicKeys, computeOptionsOf(deps.settings)));
    // Releases only the claims of the keys written; a failed key keeps its claim until it expires.
    const { written, refused } = await deps.cache.writeIfCurrent(computed.configs, startedAt, deps.settings.configCacheTtlS, claimToken);
    timer();
    // The job was added right after its keys were claimed, so its timestamp is when they went
    // pending (the API's clock; the same host's in compose, NTP-close elsewhere).
    const pendingS = Math.max(0, (Date.now() - job.timestamp) / 1000);
    for (let i = 0; i < written.length; i++) deps.metrics.projectConfigPending.observe(pendingS);
    reportConfigFailures(deps, computed.failures, 'build');
    for (const failure of computed.failures) await deps.buildFailures.record([failure.publicKey], failure).catch(() => undefined);
    deps.metrics.projectConfigBuilds.inc({ trigger: 'build' }, written.length);
    deps.metrics.buildJobKeys.observe(publicKeys.length);
    deps.metrics.buildJobQueries.observe(queries);
    if (refused.length > 0) {
      // Their data changed while we computed; Relay's next poll schedules a fresh build.
      deps.metrics.staleWritesRefused.inc(refused.length);
      deps.logger.debug({ jobId: job.id, refused: refused.length }, 'refused stale config writes');
    }
  };
}

/** After the last attempt failed: free the claims so Relay's next poll schedules the keys again. */
export async function releaseClaimsOfFailedJob(deps: Pick<JobDeps, 'cache' | 'metrics' | 'logger' | 'buildFailures'>, job: Job<BuildJobData> | undefined, error: Error): Promise<void> {
  deps.metrics.buildJobsFailed.inc();
  if (!job) return;
  await deps.buildFailures.record(job.data.publicKeys, { reason: 'job_failed', message: error.message }).catch(() => undefined);
  const exhausted = job.attemptsMade >= (job.opts.attempts ?? 1);
  deps.logger.warn({ jobId: job.id, attempt: job.attemptsMade, exhausted, err: error.message }, 'build job failed');
  if (exhausted) await deps.cache.releaseClaims(job.data.publicKeys, job.data.claimToken).catch(() => undefined);
}
