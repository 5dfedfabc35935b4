import type { EntityManager } from '@mikro-orm/postgresql';
import type { ProjectConfigInput } from '../relay-config/types';
import {
  OrganizationOption,
  ProjectKey,
  ProjectOption,
  ProjectTemplateOption,
  type Organization,
  type Project,
} from './entities';

/**
 * The batched loader: everything the config builder needs for many keys at once, in a constant
 * number of SQL statements whatever the batch size — one joined query for keys, projects,
 * organizations and templates (the identity map shares the rows many keys point at), then one
 * `IN` query per option table. Always 4 statements, even when a list is empty, so the cost of a
 * build job does not depend on what it happens to contain.
 */

/** The most keys one load may ask for (Relay sends at most 500 per request). */
export const MAX_LOAD_KEYS = 500;

export type LoadScope = { publicKeys: readonly string[] } | { projectIds: readonly number[] } | { organizationIds: readonly number[] };

export interface ConfigSources {
  /** Every key the scope found, by public key. */
  keys: Map<string, ProjectKey>;
  organizationOptions: Map<number, Map<string, unknown>>;
  projectOptions: Map<number, Map<string, unknown>>;
  templateOptions: Map<number, Map<string, unknown>>;
}

/** Loads keys and their projects, organizations, options and templates for a scope. */
export async function loadConfigSources(em: EntityManager, scope: LoadScope): Promise<ConfigSources> {
  const where =
    'publicKeys' in scope
      ? { publicKey: { $in: [...scope.publicKeys] } }
      : 'projectIds' in scope
        ? { project: { $in: [...scope.projectIds] } }
        : { project: { organization: { $in: [...scope.organizationIds] } } };
  const found = await em.find(ProjectKey, where, {
    populate: ['project', 'project.organization', 'project.template'],
    strategy: 'joined',
    orderBy: { id: 'asc' },
  });

  const projectIds = new Set<number>();
  const organizationIds = new Set<number>();
  const templateIds = new Set<number>();
  const keys = new Map<string, ProjectKey>();
  for (const key of found) {
    keys.set(key.publicKey, key);
    const project = key.project as Project;
    projectIds.add(project.id);
    organizationIds.add((project.organization as Organization).id);
    if (project.template) templateIds.add(project.template.id);
  }

  const organizationOptions = await em.find(OrganizationOption, { organization: { $in: [...organizationIds] } }, { fields: ['organization', 'key', 'value'] });
  const projectOptions = await em.find(ProjectOption, { project: { $in: [...projectIds] } }, { fields: ['project', 'key', 'value'] });
  const templateOptions = await em.find(ProjectTemplateOption, { template: { $in: [...templateIds] } }, { fields: ['template', 'key', 'value'] });

  return {
    keys,
    organizationOptions: groupOptions(organizationOptions, (o) => o.organization.id),
    projectOptions: groupOptions(projectOptions, (o) => o.project.id),
    templateOptions: groupOptions(templateOptions, (o) => o.template.id),
  };
}

function groupOptions<T extends { key: string; value: unknown }>(rows: T[], owner: (row: T) => number): Map<number, Map<string, unknown>> {
  const grouped = new Map<number, Map<string, unknown>>();
  for (const row of rows) {
    const id = owner(row);
    let options = grouped.get(id);
    if (!options) grouped.set(id, (options = new Map()));
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
  const project = key.project as Project;
  const organization = project.organization as Organization;
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
