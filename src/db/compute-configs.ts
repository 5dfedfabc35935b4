import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { buildProjectConfig, DISABLED_CONFIG } from '../relay-config/project-config';
import type { BuildContext, ProjectConfig } from '../relay-config/types';
import { configInputFor, loadConfigSources, type ConfigKey, type ConfigSources } from './config-loader';

/** A computed config with what the cache writer needs: its text, rev and the scope it belongs to. */
export interface ComputedConfig {
  publicKey: string;
  config: ProjectConfig;
  json: string;
  rev: string | null;
  organizationId: number | null;
  projectId: number | null;
}

export interface ComputeOptions {
  allowedOrigins: readonly string[];
  now?: Date;
}

export const newRev = (): string => randomUUID().replaceAll('-', '');

function buildContext(options: ComputeOptions): BuildContext {
  return { now: options.now ?? new Date(), allowedOrigins: options.allowedOrigins, newRev };
}

function compute(sources: ConfigSources, publicKey: string, ctx: BuildContext, projectKeys?: ConfigKey[]): ComputedConfig {
  const input = configInputFor(sources, publicKey);
  const config = buildProjectConfig(projectKeys ? { ...input, projectKeys } : input, ctx);
  return {
    publicKey,
    config,
    json: JSON.stringify(config),
    rev: config.disabled ? null : config.rev,
    organizationId: input.organization?.id ?? null,
    projectId: input.project?.id ?? null,
  };
}

/**
 * Loads and builds the configs of up to 500 keys with the batched loader (a constant number of
 * queries) on the given EntityManager, which should be a fork owned by the caller.
 */
export async function computeProjectConfigs(em: EntityManager, publicKeys: readonly string[], options: ComputeOptions): Promise<ComputedConfig[]> {
  const sources = await loadConfigSources(em, { publicKeys });
  const ctx = buildContext(options);
  return publicKeys.map((publicKey) => compute(sources, publicKey, ctx));
}

/**
 * Version 1: one config per project id, built for the project's first active key and listing
 * every active key; plus the per-key configs of all its keys (for the cache). Unknown projects
 * and projects without an active key are `{"disabled":true}`.
 */
export async function computeConfigsByProject(
  em: EntityManager,
  projectIds: readonly number[],
  options: ComputeOptions,
): Promise<Map<number, { config: ProjectConfig; keys: ComputedConfig[] }>> {
  const sources = await loadConfigSources(em, { projectIds });
  const ctx = buildContext(options);
  const keysByProject = new Map<number, ConfigKey[]>();
  for (const key of sources.keys.values()) {
    const projectId = key.project.id;
    keysByProject.set(projectId, [...(keysByProject.get(projectId) ?? []), key]);
  }
  const result = new Map<number, { config: ProjectConfig; keys: ComputedConfig[] }>();
  for (const projectId of projectIds) {
    const rows = keysByProject.get(projectId) ?? [];
    const first = rows.find((k) => k.status === 'active');
    result.set(projectId, {
      config: first ? compute(sources, first.publicKey, ctx, rows).config : DISABLED_CONFIG,
      keys: rows.map((k) => compute(sources, k.publicKey, ctx)),
    });
  }
  return result;
}
