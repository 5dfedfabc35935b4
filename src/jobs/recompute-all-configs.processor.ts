import type { Job } from 'bullmq';
import { computeOptionsOf, computeProjectConfigs, reportConfigFailures } from '../db/compute-configs';
import type { RecomputeAllJobData } from '../queues/recompute-all.queue';
import type { JobDeps } from './deps';
import { INVALIDATION_CHUNK, makeWayForBuilds } from './invalidate-project-config.processor';

/** Keys SCAN is asked for per step (a hint: Redis may return more or fewer). */
const SCAN_COUNT = 1000;

/**
 * Recomputes every cached config in place: walks the config keys with SCAN and rewrites each
 * chunk through the same compute + `writeIfCurrent` path an invalidation takes, making way for
 * builds before each chunk. Nothing is deleted at any moment, so a Relay reading Redis (or asking
 * the API) always finds a config — the old one until the new one replaces it.
 *
 * A key whose config cannot be computed now keeps its cached config: unlike an invalidation, no
 * data changed, so the cached config is still what the rows said (its failure is reported, and a
 * later change or the TTL settles it). A change committed during the walk is never overwritten:
 * the generation is read before each chunk is loaded, and the change's own invalidation writes.
 * With `format`, the format stamp is stored once the walk is done.
 */
export function createRecomputeAllProcessor(deps: JobDeps) {
  return async (job: Job<RecomputeAllJobData>): Promise<void> => {
    const timer = deps.metrics.buildJobDuration.startTimer({ queue: 'recompute-all' });
    let cursor = '0';
    let recomputed = 0;
    let failed = 0;
    do {
      const step = await deps.cachedConfigs.scanConfigKeys(cursor, SCAN_COUNT);
      cursor = step.cursor;
      for (let i = 0; i < step.publicKeys.length; i += INVALIDATION_CHUNK) {
        await makeWayForBuilds(deps);
        const startedAt = await deps.cache.generation();
        const computed = await computeProjectConfigs(deps.orm.em.fork(), step.publicKeys.slice(i, i + INVALIDATION_CHUNK), computeOptionsOf(deps.settings));
        const { written, refused } = await deps.cache.writeIfCurrent(computed.configs, startedAt, deps.settings.configCacheTtlS, null);
        if (computed.failures.length > 0) reportConfigFailures(deps, computed.failures, 'invalidation');
        recomputed += written.length;
        failed += computed.failures.length;
        if (refused.length > 0) deps.metrics.staleWritesRefused.inc(refused.length);
      }
    } while (cursor !== '0');
    if (job.data.format !== null) await deps.cachedConfigs.storeFormat(job.data.format);
    timer();
    deps.metrics.projectConfigBuilds.inc({ trigger: 'recompute-all' }, recomputed);
    deps.logger.info({ jobId: job.id, trigger: job.data.trigger, format: job.data.format, recomputed, failed }, 'every cached config recomputed');
  };
}
