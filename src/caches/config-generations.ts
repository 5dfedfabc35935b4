import { randomUUID } from 'node:crypto';
import type { RedisLayout } from './layout';
import { isCluster, type RedisClient } from './redis';

/**
 * The writer's side of "No stale overwrite" (DESIGN.md) and hierarchical de-duplication of
 * invalidations; the project config cache's `writeIfCurrent` is the reader's side.
 *
 * Every committed change increments one global counter and stamps the changed organization,
 * project or key with the new value. A build or invalidation reads the counter *before* it loads
 * from PostgreSQL; a config whose organization, project or own stamp is newer than that reading
 * is refused, because the rows it was computed from may predate the change.
 *
 * Pending markers say "an invalidation of this scope is scheduled and has not started loading
 * yet"; a change inside a scope with a pending marker needs no job of its own. A job removes its
 * marker *before* reading the counter and loading, so a change that saw the marker is always
 * visible to that job.
 *
 * On a Redis Cluster the counter lives in another slot than the markers (all markers of one
 * organization share a slot), so a change increments it first and then runs the marker script:
 * a job that finds no marker has cleared it after the increment, so it reads a counter at least
 * as new. Stamps are not kept there: the cluster's guard compares generations per key instead
 * (project-config-cache.ts).
 *
 * A marker holds the token of the change that set it (its outbox row). Setting the marker and
 * enqueueing the job are two Redis calls; if the enqueue fails, the change is published again
 * with the same token, finds its own marker, and is told to enqueue — a marker is never left
 * behind that no job will clear while other changes trust it.
 */

export type InvalidationScope =
  | { scope: 'organization'; organizationId: number }
  | { scope: 'project'; organizationId: number; projectId: number }
  | { scope: 'template'; organizationId: number; templateId: number }
  | { scope: 'key'; organizationId: number; projectId: number; publicKey: string };

/** How long stamps are kept: far longer than any build or invalidation job runs. */
const STAMP_TTL_S = 24 * 3600;

export interface ConfigGenerations {
  /**
   * After a commit: stamps the changed scope and reports whether it still needs an invalidation
   * job (false when a pending invalidation of the scope or an enclosing one will see the change).
   * `token` names the change: called again with the same token (its enqueue failed), it answers
   * true again while its own marker stands.
   */
  recordChange(change: InvalidationScope, token?: string): Promise<boolean>;
  /** At the start of an invalidation job: clears its marker; false when an enclosing invalidation is still pending. */
  beginInvalidation(change: InvalidationScope): Promise<boolean>;
}

/**
 * The marker rule, written once for both scripts below: with the own marker at KEYS[own] and the
 * enclosing markers after it, and the marker TTL (ms) and the change's token at ARGV[ttl] and
 * ARGV[ttl + 1]. Returns 1 when a job must be scheduled. Covered by an enclosing marker, a change
 * drops a marker it set itself earlier: no job of its own will come to clear it.
 */
const markerRule = (own: number, ttl: number) => `
local own = redis.call('GET', KEYS[${own}])
for k = ${own + 1}, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    if own == ARGV[${ttl + 1}] then redis.call('DEL', KEYS[${own}]) end
    return 0
  end
end
if own and own ~= ARGV[${ttl + 1}] then return 0 end
redis.call('SET', KEYS[${own}], ARGV[${ttl + 1}], 'PX', ARGV[${ttl}])
return 1
`;

// KEYS[1] global counter, KEYS[2] the stamp to set, KEYS[3] own marker, KEYS[4..] enclosing
// markers. ARGV: stamp TTL (s), marker TTL (ms), the change's token.
const RECORD_CHANGE = `
local generation = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], generation, 'EX', ARGV[1])
${markerRule(3, 2)}`;

// The same without the counter and the stamp (cluster): KEYS[1] own marker, KEYS[2..] enclosing.
// ARGV: marker TTL (ms), the change's token.
const MARK_CHANGE = markerRule(1, 1);

// KEYS[1] own marker, KEYS[2..] enclosing markers. Returns 1 when the job must run.
const BEGIN_INVALIDATION = `
redis.call('DEL', KEYS[1])
for k = 2, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then return 0 end
end
return 1
`;

interface GenerationCommands {
  relayRecordChange(numKeys: number, ...args: (string | number)[]): Promise<number>;
  relayMarkChange(numKeys: number, ...args: (string | number)[]): Promise<number>;
  relayBeginInvalidation(numKeys: number, ...args: string[]): Promise<number>;
}

const SCRIPTS = { relayRecordChange: RECORD_CHANGE, relayMarkChange: MARK_CHANGE, relayBeginInvalidation: BEGIN_INVALIDATION };

export interface ConfigGenerationsOptions {
  /** How long a pending marker lives if its job never starts (e.g. the add failed). */
  markerTtlMs: number;
}

export function createConfigGenerations(redis: RedisClient, layout: RedisLayout, options: ConfigGenerationsOptions): ConfigGenerations {
  for (const [name, lua] of Object.entries(SCRIPTS)) if (!(name in redis)) redis.defineCommand(name, { lua });
  const r = redis as RedisClient & GenerationCommands;
  const cluster = isCluster(redis);
  const { stamp, marker } = layout;

  /** The stamp a change sets, its own marker, and the markers of the scopes that enclose it. */
  function scopeKeys(change: InvalidationScope): { stamp: string; own: string; enclosing: string[] } {
    const org = marker.organization(change.organizationId);
    switch (change.scope) {
      case 'organization':
        return { stamp: stamp.organization(change.organizationId), own: org, enclosing: [] };
      case 'project':
        return { stamp: stamp.project(change.projectId), own: marker.project(change.organizationId, change.projectId), enclosing: [org] };
      case 'template':
        // Which projects use the template is only known to the job, so the whole organization is stamped.
        return { stamp: stamp.organization(change.organizationId), own: marker.template(change.organizationId, change.templateId), enclosing: [org] };
      case 'key':
        return { stamp: stamp.key(change.publicKey), own: marker.key(change.organizationId, change.publicKey), enclosing: [marker.project(change.organizationId, change.projectId), org] };
    }
  }

  return {
    async recordChange(change, token = randomUUID()) {
      const { stamp: stampKey, own, enclosing } = scopeKeys(change);
      if (cluster) {
        await redis.incr(layout.generation);
        return (await r.relayMarkChange(1 + enclosing.length, own, ...enclosing, options.markerTtlMs, token)) === 1;
      }
      const result = await r.relayRecordChange(3 + enclosing.length, layout.generation, stampKey, own, ...enclosing, STAMP_TTL_S, options.markerTtlMs, token);
      return result === 1;
    },

    async beginInvalidation(change) {
      const { own, enclosing } = scopeKeys(change);
      return (await r.relayBeginInvalidation(1 + enclosing.length, own, ...enclosing)) === 1;
    },
  };
}
