import type { Settings } from '../config/settings';
import type { ProjectConfigCache } from '../caches/project-config-cache';
import { computeOptionsOf, computeProjectConfigs } from '../db/compute-configs';
import { listScopePublicKeys } from '../db/config-loader';
import { Organization, Project, ProjectKey } from '../db/entities';
import type { Orm } from '../db/orm';

/**
 * `configs verify`: compares every cached config of a scope with what a build would write now,
 * writing nothing. Drift means a committed change did not reach the cache (or the cache holds
 * something no build wrote); the fields that differ between any two computations of the same
 * rows (`rev`, `lastFetch`, `lastChange`) are ignored.
 */

export type VerifyScope = { organizationSlug: string } | { organizationSlug: string; projectSlug: string } | { all: true };

export interface ConfigDifference {
  /** JSON path inside the config, e.g. `config.trustedRelays`. */
  path: string;
  cached: unknown;
  fresh: unknown;
}

export interface ConfigDrift {
  publicKey: string;
  differences: ConfigDifference[];
}

export interface VerifyReport {
  /** Keys of the scope. */
  keys: number;
  /** Of those, cached now (and so compared). */
  cached: number;
  drift: ConfigDrift[];
}

export class VerifyScopeNotFound extends Error {}

export interface VerifyDeps {
  orm: Orm;
  configCache: Pick<ProjectConfigCache, 'peek'>;
  settings: Pick<Settings, 'allowedOrigins' | 'defaultFeatures' | 'eventRetentionDays'>;
}

const CHUNK = 500;
const MAX_DIFFERENCES = 20;

function withoutVolatile(config: unknown): unknown {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return config;
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) if (key !== 'rev' && key !== 'lastFetch' && key !== 'lastChange') rest[key] = value;
  return rest;
}

/** The paths where two JSON values differ (at most `MAX_DIFFERENCES`). */
export function jsonDifferences(cached: unknown, fresh: unknown, path = '', out: ConfigDifference[] = []): ConfigDifference[] {
  if (out.length >= MAX_DIFFERENCES) return out;
  const bothObjects = cached !== null && fresh !== null && typeof cached === 'object' && typeof fresh === 'object' && Array.isArray(cached) === Array.isArray(fresh);
  if (!bothObjects) {
    if (JSON.stringify(cached) !== JSON.stringify(fresh)) out.push({ path: path || '(root)', cached, fresh });
    return out;
  }
  if (Array.isArray(cached) && Array.isArray(fresh)) {
    if (cached.length !== fresh.length) out.push({ path: path || '(root)', cached, fresh });
    else cached.forEach((item, i) => jsonDifferences(item, fresh[i], `${path}[${i}]`, out));
    return out;
  }
  const a = cached as Record<string, unknown>;
  const b = fresh as Record<string, unknown>;
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) jsonDifferences(a[key], b[key], path ? `${path}.${key}` : key, out);
  return out;
}

async function scopeKeys(orm: Orm, scope: VerifyScope): Promise<string[]> {
  const em = orm.em.fork();
  if ('all' in scope) {
    const keys: string[] = [];
    let afterId = 0;
    for (;;) {
      const page = await em.find(ProjectKey, { id: { $gt: afterId } }, { fields: ['id', 'publicKey'], orderBy: { id: 'asc' }, limit: 5000, disableIdentityMap: true });
      keys.push(...page.map((k) => k.publicKey));
      if (page.length < 5000) return keys;
      afterId = page[page.length - 1].id;
    }
  }
  const organization = await em.findOne(Organization, { slug: scope.organizationSlug }, { fields: ['id'] });
  if (!organization) throw new VerifyScopeNotFound(`Organization \`${scope.organizationSlug}\` does not exist`);
  if (!('projectSlug' in scope)) return listScopePublicKeys(em, { scope: 'organization', organizationId: organization.id });
  const project = await em.findOne(Project, { organization, slug: scope.projectSlug }, { fields: ['id'] });
  if (!project) throw new VerifyScopeNotFound(`Project \`${scope.organizationSlug}/${scope.projectSlug}\` does not exist`);
  return listScopePublicKeys(em, { scope: 'project', projectId: project.id });
}

/** Compares the cached configs of a scope with fresh computations (a key that cannot be computed now but is cached is drift). */
export async function verifyCachedConfigs(deps: VerifyDeps, scope: VerifyScope): Promise<VerifyReport> {
  const publicKeys = await scopeKeys(deps.orm, scope);
  const report: VerifyReport = { keys: publicKeys.length, cached: 0, drift: [] };
  for (let i = 0; i < publicKeys.length; i += CHUNK) {
    const stored = await deps.configCache.peek(publicKeys.slice(i, i + CHUNK));
    if (stored.size === 0) continue;
    report.cached += stored.size;
    const cachedKeys = [...stored.keys()];
    const { configs, failures } = await computeProjectConfigs(deps.orm.em.fork(), cachedKeys, computeOptionsOf(deps.settings));
    for (const computed of configs) {
      let cached: unknown;
      try {
        cached = JSON.parse(stored.get(computed.publicKey)!);
      } catch {
        cached = stored.get(computed.publicKey);
      }
      const differences = jsonDifferences(withoutVolatile(cached), withoutVolatile(JSON.parse(computed.json)));
      if (differences.length > 0) report.drift.push({ publicKey: computed.publicKey, differences });
    }
    for (const failure of failures) {
      report.drift.push({ publicKey: failure.publicKey, differences: [{ path: '(root)', cached: '(a cached config)', fresh: `cannot be computed (${failure.reason}): ${failure.message}` }] });
    }
  }
  return report;
}
