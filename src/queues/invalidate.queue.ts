import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { ConfigGenerations, InvalidationScope } from '../caches/config-generations';
import type { ProjectConfigCache } from '../caches/project-config-cache';

/** An invalidation: recompute the cached configs of one scope, after a change committed. */
export type InvalidateJobData = InvalidationScope & {
  /** What caused it, e.g. `organization-option.update:sentry:trusted-relays`. */
  trigger: string;
};

export type InvalidateQueue = Queue<InvalidateJobData, void, string>;

/** A committed change that affects configs; `disabledKeys` are keys taken out of use (deleted). */
export interface ConfigChange {
  scope: InvalidationScope;
  trigger: string;
  disabledKeys?: string[];
}

export interface InvalidationScheduler {
  /**
   * Publishes one committed change, named by `token` (its outbox row): stamps its scope against
   * stale writes, takes deleted keys out of use at once, and enqueues an invalidation unless a
   * pending one covers it. Throws when Redis fails part-way; published again with the same token
   * it completes what the failed attempt left (a marker it set is recognised as its own). Safe to
   * repeat: an extra invalidation recomputes the same configs. Returns whether a job was enqueued.
   */
  publish(change: ConfigChange, token: string): Promise<boolean>;
  /** Publishes changes made outside the outbox (the CLI's explicit `configs invalidate`). Returns how many jobs were enqueued. */
  schedule(changes: readonly ConfigChange[]): Promise<number>;
}

/** `invalidate project 12 (project.edit)`: the scope and the trigger, as Bull Board lists them. */
export function invalidateJobName(change: ConfigChange): string {
  const scope = change.scope;
  const id = scope.scope === 'organization' ? scope.organizationId : scope.scope === 'project' ? scope.projectId : scope.scope === 'template' ? scope.templateId : `${scope.publicKey.slice(0, 8)}…`;
  return `invalidate ${scope.scope} ${id} (${change.trigger})`;
}

/** The producer side of invalidations, on the fail-fast connection (a failed publish is retried by its caller). */
export function createInvalidationScheduler(
  queue: Pick<InvalidateQueue, 'add'>,
  generations: ConfigGenerations,
  cache: Pick<ProjectConfigCache, 'disableCached'>,
  delayMs: number,
  onScheduled?: (change: ConfigChange) => void,
): InvalidationScheduler {
  async function publish(change: ConfigChange, token: string): Promise<boolean> {
    // Stamp first, then disable: a build that read the rows before the change is refused.
    const needsJob = await generations.recordChange(change.scope, token);
    if (change.disabledKeys?.length) await cache.disableCached(change.disabledKeys);
    if (!needsJob) return false;
    await queue.add(invalidateJobName(change), { ...change.scope, trigger: change.trigger }, { delay: delayMs });
    onScheduled?.(change);
    return true;
  }
  return {
    publish,
    async schedule(changes) {
      let enqueued = 0;
      for (const change of changes) if (await publish(change, randomUUID())) enqueued += 1;
      return enqueued;
    },
  };
}
