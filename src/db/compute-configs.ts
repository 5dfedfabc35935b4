import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings';
import type { Metrics } from '../metrics';
import { MAX_CONFIG_BYTES } from '../options/bounds';
import { buildProjectConfig, DISABLED_CONFIG } from '../relay-config/project-config';
import { stringifyConfigWithSpans, type SharedSpan } from '../relay-config/serialize';
import type { BuildContext, ProjectConfig } from '../relay-config/types';
import { configInputFor, loadConfigSources, type ConfigKey, type ConfigSources } from './config-loader';

/** A computed config with what the cache writer needs: its text, rev and the scope it belongs to. */
export interface ComputedConfig {
  publicKey: string;
  config: ProjectConfig;
  json: string;
  /** Where the longer shared section texts are in `json` (the cache stores them for gzip replies to refer back to). */
  shared: readonly SharedSpan[];
  rev: string | null;
  organizationId: number | null;
  projectId: number | null;
}

/** Why one key's config could not be computed (the label of `relay_projectconfig_build_failures_total`). */
export type ConfigFailureReason = 'build_error' | 'too_large';

/**
 * A key whose config could not be computed. It is that key's failure alone: the other keys of
 * the batch are computed and written as usual, and nothing is cached for this one.
 */
export interface ConfigFailure {
  publicKey: string;
  reason: ConfigFailureReason;
  message: string;
  organizationId: number | null;
  projectId: number | null;
}

export interface ComputeResult {
  configs: ComputedConfig[];
  failures: ConfigFailure[];
}

/** The server settings configs are computed from. */
export interface ComputeOptions {
  allowedOrigins: readonly string[];
  defaultFeatures: readonly string[];
  eventRetentionDays: number;
  now?: Date;
}

/** The compute options of the running server. */
export function computeOptionsOf(settings: Pick<Settings, 'allowedOrigins' | 'defaultFeatures' | 'eventRetentionDays'>): ComputeOptions {
  return { allowedOrigins: settings.allowedOrigins, defaultFeatures: settings.defaultFeatures, eventRetentionDays: settings.eventRetentionDays };
}

export const newRev = (): string => randomUUID().replaceAll('-', '');

function buildContext(options: ComputeOptions): BuildContext {
  return { now: options.now ?? new Date(), allowedOrigins: options.allowedOrigins, defaultFeatures: new Set(options.defaultFeatures), eventRetentionDays: options.eventRetentionDays, newRev };
}

/** UTF-8 size check that skips the byte count for the (usual) text that cannot be near the cap. */
const overCap = (json: string) => json.length * 3 > MAX_CONFIG_BYTES && Buffer.byteLength(json) > MAX_CONFIG_BYTES;

function compute(sources: ConfigSources, publicKey: string, ctx: BuildContext, projectKeys?: ConfigKey[]): ComputedConfig | ConfigFailure {
  const input = configInputFor(sources, publicKey);
  const scope = { organizationId: input.organization?.id ?? null, projectId: input.project?.id ?? null };
  let config: ProjectConfig;
  let json: string;
  let shared: SharedSpan[];
  try {
    config = buildProjectConfig(projectKeys ? { ...input, projectKeys } : input, ctx);
    ({ json, shared } = stringifyConfigWithSpans(config));
  } catch (error) {
    return { publicKey, reason: 'build_error', message: error instanceof Error ? error.message : String(error), ...scope };
  }
  if (overCap(json)) return { publicKey, reason: 'too_large', message: `the config is ${Buffer.byteLength(json)} bytes, over the ${MAX_CONFIG_BYTES} byte cap`, ...scope };
  return { publicKey, config, json, shared, rev: config.disabled ? null : config.rev, ...scope };
}

const isFailure = (outcome: ComputedConfig | ConfigFailure): outcome is ConfigFailure => 'reason' in outcome;

/**
 * Loads and builds the configs of up to 500 keys with the batched loader (a constant number of
 * queries) on the given EntityManager, which should be a fork owned by the caller. A key whose
 * config cannot be built is reported in `failures`; it never fails the other keys.
 */
export async function computeProjectConfigs(em: EntityManager, publicKeys: readonly string[], options: ComputeOptions): Promise<ComputeResult> {
  const sources = await loadConfigSources(em, { publicKeys });
  const ctx = buildContext(options);
  const result: ComputeResult = { configs: [], failures: [] };
  for (const publicKey of publicKeys) {
    const outcome = compute(sources, publicKey, ctx);
    if (isFailure(outcome)) result.failures.push(outcome);
    else result.configs.push(outcome);
  }
  return result;
}

/** One project's answer for version 1; `config` is null when it could not be built. */
export interface ProjectConfigsOfProject {
  config: ProjectConfig | null;
  keys: ComputedConfig[];
}

/**
 * Version 1: one config per project id, built for the project's first active key and listing
 * every active key; plus the per-key configs of all its keys (for the cache). Unknown projects
 * and projects without an active key are `{"disabled":true}`; a project or key whose config
 * cannot be built is reported in `failures` and leaves the others alone.
 */
export async function computeConfigsByProject(
  em: EntityManager,
  projectIds: readonly number[],
  options: ComputeOptions,
): Promise<{ projects: Map<number, ProjectConfigsOfProject>; failures: ConfigFailure[] }> {
  const sources = await loadConfigSources(em, { projectIds });
  const ctx = buildContext(options);
  const keysByProject = new Map<number, ConfigKey[]>();
  for (const key of sources.keys.values()) {
    const projectId = key.project.id;
    keysByProject.set(projectId, [...(keysByProject.get(projectId) ?? []), key]);
  }
  const projects = new Map<number, ProjectConfigsOfProject>();
  const failures: ConfigFailure[] = [];
  for (const projectId of projectIds) {
    const rows = keysByProject.get(projectId) ?? [];
    const first = rows.find((k) => k.status === 'active');
    const listing = first ? compute(sources, first.publicKey, ctx, rows) : null;
    if (listing && isFailure(listing)) failures.push(listing);
    const keys: ComputedConfig[] = [];
    for (const row of rows) {
      const outcome = compute(sources, row.publicKey, ctx);
      // The listing's failure already names the first key; report each key once.
      if (!isFailure(outcome)) keys.push(outcome);
      else if (!listing || !isFailure(listing) || outcome.publicKey !== listing.publicKey) failures.push(outcome);
    }
    projects.set(projectId, { config: listing === null ? DISABLED_CONFIG : isFailure(listing) ? null : listing.config, keys });
  }
  return { projects, failures };
}

/** Counts each failed key by reason and logs it with its key, so an operator can find the bad row. */
export function reportConfigFailures(deps: { metrics: Metrics; logger: Logger }, failures: readonly ConfigFailure[], trigger: 'build' | 'invalidation' | 'request'): void {
  for (const failure of failures) {
    deps.metrics.projectConfigBuildFailures.inc({ reason: failure.reason, trigger });
    deps.logger.warn(
      { publicKey: failure.publicKey, organizationId: failure.organizationId, projectId: failure.projectId, reason: failure.reason, trigger, err: failure.message },
      'project config could not be computed for this key',
    );
  }
}
