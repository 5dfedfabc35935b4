import type { Settings } from '../config/settings';
import { computeOptionsOf, computeProjectConfigs, type ComputeResult, type ConfigFailure } from '../db/compute-configs';
import { Organization, Project, ProjectKey } from '../db/entities';
import type { Orm } from '../db/orm';
import { NotFoundError } from '../errors';
import type { CachedConfigScan } from '../caches/config-format';
import type { ConfigChange, InvalidationScheduler } from '../queues/invalidate.queue';
import { upgradeJobId, type RecomputeAllQueue } from '../queues/recompute-all.queue';
import { CONFIG_FORMAT } from '../relay-config/project-config';
import type { ProjectConfig } from '../relay-config/types';
import { PUBLIC_KEY_RE } from './keys';

/**
 * Configs computed on demand and invalidated by hand: the one computation the Relay endpoint's
 * synchronous paths and `configs show` share, and the scope lookup behind `configs invalidate`.
 */

export interface ComputeDeps {
  orm: Orm;
  settings: Pick<Settings, 'allowedOrigins' | 'defaultFeatures' | 'eventRetentionDays'>;
}

/**
 * Computes the configs of up to 500 keys now, from PostgreSQL, on a fork of its own (the batched
 * loader and builder a build job runs); a key that cannot be built is reported in `failures`.
 */
export function computeConfigsNow(deps: ComputeDeps, publicKeys: readonly string[]): Promise<ComputeResult> {
  return computeProjectConfigs(deps.orm.em.fork(), publicKeys, computeOptionsOf(deps.settings));
}

/** The config of one key as Relay would get it now (`{"disabled":true}` for an unknown key), or why it cannot be computed. */
export async function showConfig(deps: ComputeDeps, publicKey: string): Promise<{ config: ProjectConfig } | { failure: ConfigFailure }> {
  const { configs, failures } = await computeConfigsNow(deps, [publicKey]);
  const failure = failures[0];
  return failure ? { failure } : { config: configs[0].config };
}

/** What to invalidate: an organization by slug, a project by its organization's slug and its own, or one key. */
export type InvalidationTarget = { organization: string } | { organization: string; project: string } | { publicKey: string };

export interface InvalidateDeps {
  orm: Orm;
  invalidations: InvalidationScheduler;
}

/** The scope a target names; NotFoundError when it names nothing. */
async function scopeOf(deps: InvalidateDeps, target: InvalidationTarget): Promise<ConfigChange['scope']> {
  const em = deps.orm.em.fork();
  if ('publicKey' in target) {
    const key = PUBLIC_KEY_RE.test(target.publicKey) ? await em.findOne(ProjectKey, { publicKey: target.publicKey }, { populate: ['project'] }) : null;
    if (!key) throw new NotFoundError(`Key \`${target.publicKey}\` does not exist`);
    return { scope: 'key', organizationId: key.project.organization.id, projectId: key.project.id, publicKey: key.publicKey };
  }
  if ('project' in target) {
    const project = await em.findOne(Project, { slug: target.project, organization: { slug: target.organization } });
    if (!project) throw new NotFoundError(`Project \`${target.organization}/${target.project}\` does not exist`);
    return { scope: 'project', organizationId: project.organization.id, projectId: project.id };
  }
  const organization = await em.findOne(Organization, { slug: target.organization });
  if (!organization) throw new NotFoundError(`Organization \`${target.organization}\` does not exist`);
  return { scope: 'organization', organizationId: organization.id };
}

/**
 * Schedules the recomputation of every cached config of a scope, as a committed change would;
 * returns how many jobs were enqueued (0 when a pending invalidation already covers the scope).
 */
export async function invalidateScope(deps: InvalidateDeps, target: InvalidationTarget, trigger = 'cli'): Promise<number> {
  return deps.invalidations.schedule([{ scope: await scopeOf(deps, target), trigger }]);
}

export interface RecomputeAllDeps {
  queues: { 'recompute-all': Pick<RecomputeAllQueue, 'add'> };
}

/**
 * `configs invalidate --all`: recomputes every cached config in place, in the background, after
 * builds, deleting nothing (deleting them all would make every Relay wait for a rebuild at once).
 * Returns the id of the enqueued job.
 */
export async function recomputeAllConfigs(deps: RecomputeAllDeps, trigger = 'cli'): Promise<string> {
  const job = await deps.queues['recompute-all'].add('recompute-all', { trigger, format: null });
  return job.id ?? '';
}

/**
 * At worker start: when the cached configs were written in an older `CONFIG_FORMAT` (or before
 * there was a stamp), schedules their recomputation in place; the job stamps the new format when
 * done. A stamp newer than this process's format (an older worker started during a rollout) is
 * left alone: the newer workers already recomputed. Returns whether a job was enqueued; the
 * workers of one deploy that all find the old stamp share one job (one id per format).
 */
export async function scheduleUpgradeRecompute(deps: RecomputeAllDeps & { cachedConfigs: Pick<CachedConfigScan, 'storedFormat'> }, format = CONFIG_FORMAT): Promise<boolean> {
  const stored = await deps.cachedConfigs.storedFormat();
  if (stored !== null && stored >= format) return false;
  await deps.queues['recompute-all'].add('recompute-all', { trigger: 'upgrade', format }, { jobId: upgradeJobId(format) });
  return true;
}
