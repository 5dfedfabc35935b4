import type { Job } from 'bullmq';
import { computeOptionsOf, computeProjectConfigs, reportConfigFailures } from '../db/compute-configs';
import { listScopePublicKeys } from '../db/config-loader';
import type { InvalidateJobData } from '../queues/invalidate.queue';
import type { JobDeps } from './deps';

/** Keys recomputed per step of an invalidation; between steps it makes way for builds. */
export const INVALIDATION_CHUNK = 100;
/** Longest an invalidation step waits for builds, so a steady stream of builds cannot starve it. */
const MAX_YIELD_MS = 2000;

/**
 * Builds before invalidations (DESIGN.md): a Relay is waiting on a build, nobody waits on an
 * invalidation. Before each step, wait while build jobs are queued or running.
 */
export async function makeWayForBuilds(deps: Pick<JobDeps, 'buildsPending'>): Promise<void> {
  const deadline = Date.now() + MAX_YIELD_MS;
  while (Date.now() < deadline && (await deps.buildsPending())) await new Promise((r) => setTimeout(r, 10));
}

/**
 * Recomputes the cached configs of one scope after a change. Keys that are not cached stay
 * absent (Relay's next request builds them); huge scopes go in steps of 100 keys, each with its
 * own fork so the identity map does not grow with the scope.
 *
 * A key whose config can no longer be computed fails alone: its cached config, computed from the
 * data before the change, is removed rather than served as if current (the next poll schedules a
 * build, which fails again or succeeds once the data is fixed); the rest of the scope is written.
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
    const startedAt = await deps.cache.generation();
    const publicKeys = await listScopePublicKeys(deps.orm.em.fork(), change);
    let recomputed = 0;
    for (let i = 0; i < publicKeys.length; i += INVALIDATION_CHUNK * 50) {
      const cached = [...(await deps.cache.invalidationTargets(publicKeys.slice(i, i + INVALIDATION_CHUNK * 50), startedAt))];
      for (let j = 0; j < cached.length; j += INVALIDATION_CHUNK) {
        await makeWayForBuilds(deps);
        const chunk = cached.slice(j, j + INVALIDATION_CHUNK);
        const computed = await computeProjectConfigs(deps.orm.em.fork(), chunk, computeOptionsOf(deps.settings));
        const { written, refused } = await deps.cache.writeIfCurrent(computed.configs, startedAt, deps.settings.configCacheTtlS, null);
        if (computed.failures.length > 0) {
          reportConfigFailures(deps, computed.failures, 'invalidation');
          await deps.cache.delete(computed.failures.map((f) => f.publicKey));
        }
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
