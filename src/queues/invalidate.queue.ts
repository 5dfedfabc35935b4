import type { Queue } from 'bullmq';
import type { ConfigGenerations, InvalidationScope } from '../caches/config-generations';
import type { ProjectConfigCache } from '../caches/project-config-cache';

/** An invalidation: recompute the cached configs of one scope, after a change committed. */
export type InvalidateJobData = InvalidationScope & {
  /** What caused it, e.g. `organization-option.update:sentry:trusted-relays`. */
  trigger: string;
};

export type InvalidateQueue = Queue<InvalidateJobData, void, 'invalidate'>;

/** A committed change that affects configs; `disabledKeys` are keys taken out of use (deleted). */
export interface ConfigChange {
  scope: InvalidationScope;
  trigger: string;
  disabledKeys?: string[];
}

export interface InvalidationScheduler {
  /** Called after a transaction commits (never on rollback). Returns how many jobs were enqueued. */
  schedule(changes: readonly ConfigChange[]): Promise<number>;
}

/**
 * Records each change (stamping its scope against stale writes), takes deleted keys out of use
 * at once, and enqueues one delayed invalidation per scope that no pending invalidation already
 * covers; the delay coalesces bursts.
 */
export function createInvalidationScheduler(queue: InvalidateQueue, generations: ConfigGenerations, cache: Pick<ProjectConfigCache, 'disableCached'>, delayMs: number, onScheduled?: (change: ConfigChange) => void): InvalidationScheduler {
  return {
    async schedule(changes) {
      let enqueued = 0;
      for (const change of changes) {
        // Stamp first, then disable: a build that read the rows before the change is refused.
        const needsJob = await generations.recordChange(change.scope);
        if (change.disabledKeys?.length) await cache.disableCached(change.disabledKeys);
        if (!needsJob) continue;
        await queue.add('invalidate', { ...change.scope, trigger: change.trigger }, { delay: delayMs });
        onScheduled?.(change);
        enqueued += 1;
      }
      return enqueued;
    },
  };
}
