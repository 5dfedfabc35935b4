import type { Job } from 'bullmq';
import { computeProjectConfigs } from '../db/compute-configs';
import { listScopePublicKeys, MAX_LOAD_KEYS } from '../db/config-loader';
import type { InvalidateJobData } from '../queues/invalidate.queue';
import type { JobDeps } from './deps';

/**
 * Recomputes the cached configs of one scope after a change. Keys that are not cached stay
 * absent (Relay's next request builds them); huge scopes go in chunks of 500 keys, each with its
 * own fork so the identity map does not grow with the scope.
 */
export function createInvalidateProcessor(deps: JobDeps) {
  return async (job: Job<InvalidateJobData>): Promise<void> => {
    const change = job.data;
    // Clear our pending marker before reading anything, so later changes schedule a new job.
    if (!(await deps.generations.beginInvalidation(change))) {
      deps.logger.debug({ jobId: job.id, scope: change.scope }, 'invalidation covered by a pending enclosing one');
      return;
    }
    const timer = deps.metrics.buildJobDuration.startTimer({ queue: 'invalidate' });
    const startedAt = await deps.generations.current();
    const publicKeys = await listScopePublicKeys(deps.orm.em.fork(), change);
    let recomputed = 0;
    for (let i = 0; i < publicKeys.length; i += MAX_LOAD_KEYS * 10) {
      const cached = [...(await deps.cache.cachedKeys(publicKeys.slice(i, i + MAX_LOAD_KEYS * 10)))];
      for (let j = 0; j < cached.length; j += MAX_LOAD_KEYS) {
        const chunk = cached.slice(j, j + MAX_LOAD_KEYS);
        const computed = await computeProjectConfigs(deps.orm.em.fork(), chunk, { allowedOrigins: deps.settings.allowedOrigins });
        const { written, refused } = await deps.generations.writeIfCurrent(computed, startedAt, deps.settings.configCacheTtlS, null);
        recomputed += written.length;
        if (refused.length > 0) deps.metrics.staleWritesRefused.inc(refused.length);
      }
    }
    timer();
    deps.metrics.projectConfigBuilds.inc({ trigger: 'invalidation' }, recomputed);
    deps.metrics.invalidationsProcessed.inc({ scope: change.scope });
    deps.logger.debug({ jobId: job.id, scope: change.scope, trigger: change.trigger, keys: publicKeys.length, recomputed }, 'invalidation done');
  };
}
