import type { EntityManager } from '@mikro-orm/postgresql';
import { CONFIG_INPUTS } from '../relay-config/sections';
import type { KeyRow, OrganizationRow, ProjectConfigInput, ProjectRow } from '../relay-config/types';
import {
  OrganizationOption,
  ProjectKey,
  ProjectOption,
  ProjectTemplateOption,
} from './entities';

/**
 * The batched loader: everything the config builder needs for many keys at once, in a constant
 * number of SQL statements whatever the batch size — one joined query for keys, projects,
 * organizations and templates (the identity map shares the rows many keys point at), then one
 * `IN` query per option table. Always 4 statements, even when a list is empty, so the cost of a
 * build job does not depend on what it happens to contain.
 */

export type LoadScope = { publicKeys: readonly string[] } | { projectIds: readonly number[] } | { organizationIds: readonly number[] };

/** A key as the loader reads it: only what configs are built from (partially loaded entities). */
export type ConfigKey = KeyRow & { project: ProjectRow & { organization: OrganizationRow; template: { id: number } | null | undefined } };

export interface ConfigSources {
  /** Every key the scope found, by public key. */
  keys: Map<string, ConfigKey>;
  organizationOptions: Map<number, Map<string, unknown>>;
  projectOptions: Map<number, Map<string, unknown>>;
  templateOptions: Map<number, Map<string, unknown>>;
}

/**
 * Only the columns configs are built from, derived from the config sections' declarations (plus
 * the template reference the option lookup needs): a column a section declares is loaded.
 */
export const CONFIG_FIELDS = [
  ...CONFIG_INPUTS.keyColumns.filter((c) => c !== 'id'),
  ...CONFIG_INPUTS.projectColumns.filter((c) => c !== 'id').map((c) => `project.${c}` as const),
  ...CONFIG_INPUTS.organizationColumns.filter((c) => c !== 'id').map((c) => `project.organization.${c}` as const),
  'project.template.id',
] as const;

/** Loads keys and their projects, organizations, options and templates for a scope. */
export async function loadConfigSources(em: EntityManager, scope: LoadScope): Promise<ConfigSources> {
  const where =
    'publicKeys' in scope
      ? { publicKey: { $in: [...scope.publicKeys] } }
      : 'projectIds' in scope
        ? { project: { $in: [...scope.projectIds] } }
        : { project: { organization: { $in: [...scope.organizationIds] } } };
  // Only the columns configs are built from: a job's fork exists just for this load.
  const found = await em.find(ProjectKey, where, {
    populate: ['project', 'project.organization', 'project.template'],
    fields: CONFIG_FIELDS,
    strategy: 'joined',
    orderBy: { id: 'asc' },
  });

  const projectIds = new Set<number>();
  const organizationIds = new Set<number>();
  const templateIds = new Set<number>();
  const keys = new Map<string, ConfigKey>();
  for (const key of found as unknown as ConfigKey[]) {
    keys.set(key.publicKey, key);
    projectIds.add(key.project.id);
    organizationIds.add(key.project.organization.id);
    if (key.project.template) templateIds.add(key.project.template.id);
  }

  // Options are read-only key/value rows here: plain rows, no entity hydration or change tracking
  // (thousands per batch; hydrating them was most of a build job's time).
  const organizationOptions = await optionRows(em, OrganizationOption, 'organization', organizationIds);
  const projectOptions = await optionRows(em, ProjectOption, 'project', projectIds);
  const templateOptions = await optionRows(em, ProjectTemplateOption, 'template', templateIds);

  return { keys, organizationOptions, projectOptions, templateOptions };
}

type OptionEntity = typeof OrganizationOption | typeof ProjectOption | typeof ProjectTemplateOption;

/** The options of many owners in one statement, grouped by owner id. */
async function optionRows(em: EntityManager, entity: OptionEntity, owner: 'organization' | 'project' | 'template', ids: Set<number>): Promise<Map<number, Map<string, unknown>>> {
  const rows = await em
    .createQueryBuilder(entity as typeof ProjectOption, 'o')
    .select([`o.${owner}`, 'o.key', 'o.value'] as never)
    .where({ [owner]: { $in: [...ids] } } as never)
    .execute<{ key: string; value: unknown; [owner: string]: unknown }[]>('all', true);
  const grouped = new Map<number, Map<string, unknown>>();
  for (const row of rows) {
    const id = row[owner] as number;
    let options = grouped.get(id);
    if (!options) grouped.set(id, (options = new Map<string, unknown>()));
    options.set(row.key, row.value);
  }
  return grouped;
}

const NO_OPTIONS: ReadonlyMap<string, unknown> = new Map();

/** The builder input for one public key (rows null when the key was not found). */
export function configInputFor(sources: ConfigSources, publicKey: string): ProjectConfigInput {
  const key = sources.keys.get(publicKey);
  if (!key) {
    return { publicKey, key: null, project: null, organization: null, organizationOptions: NO_OPTIONS, projectOptions: NO_OPTIONS, templateOptions: null };
  }
  const project = key.project;
  const organization = project.organization;
  return {
    publicKey,
    key,
    project,
    organization,
    organizationOptions: sources.organizationOptions.get(organization.id) ?? NO_OPTIONS,
    projectOptions: sources.projectOptions.get(project.id) ?? NO_OPTIONS,
    templateOptions: project.template ? (sources.templateOptions.get(project.template.id) ?? NO_OPTIONS) : null,
  };
}

/** The public keys of an invalidation scope (one query, public keys only). */
export async function listScopePublicKeys(
  em: EntityManager,
  scope: { scope: 'organization'; organizationId: number } | { scope: 'project'; projectId: number } | { scope: 'template'; templateId: number } | { scope: 'key'; publicKey: string },
): Promise<string[]> {
  if (scope.scope === 'key') return [scope.publicKey];
  const where =
    scope.scope === 'organization'
      ? { project: { organization: scope.organizationId } }
      : scope.scope === 'project'
        ? { project: scope.projectId }
        : { project: { template: scope.templateId } };
  const rows = await em.find(ProjectKey, where, { fields: ['publicKey'], orderBy: { id: 'asc' }, disableIdentityMap: true });
  return rows.map((row) => row.publicKey);
}
