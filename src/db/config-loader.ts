import { raw } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { CONFIG_INPUTS } from '../relay-config/sections';
import type { KeyRow, OrganizationRow, ProjectConfigInput, ProjectRow } from '../relay-config/types';
import {
  Organization,
  OrganizationOption,
  Project,
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

/** The table alias of each path of `CONFIG_FIELDS`, and the entity it reads. */
const PATHS = [
  { prefix: 'project.organization.', alias: 'o', entity: 'Organization' },
  { prefix: 'project.', alias: 'p', entity: 'Project' },
  { prefix: '', alias: 'k', entity: 'ProjectKey' },
] as const;

/** `CONFIG_FIELDS` (plus each row's id) as select expressions: `alias.column as "alias__property"`. */
function selectList(em: EntityManager): string {
  const fields = ['id', 'project.id', 'project.organization.id', ...CONFIG_FIELDS.filter((f) => f !== 'project.template.id'), 'project.template'];
  return fields
    .map((field) => {
      const path = PATHS.find((candidate) => field.startsWith(candidate.prefix)) as (typeof PATHS)[number];
      const property = field.slice(path.prefix.length);
      const column = (em.getMetadata().get(path.entity).properties as Record<string, { fieldNames: string[] }>)[property].fieldNames[0];
      return `${path.alias}.${em.getPlatform().quoteIdentifier(column)} as ${em.getPlatform().quoteIdentifier(`${path.alias}__${property}`)}`;
    })
    .join(', ');
}

type KeyRowRaw = Record<string, unknown>;

/** Loads keys and their projects, organizations, options and templates for a scope. */
export async function loadConfigSources(em: EntityManager, scope: LoadScope): Promise<ConfigSources> {
  const where =
    'publicKeys' in scope
      ? { 'k.publicKey': { $in: [...scope.publicKeys] } }
      : 'projectIds' in scope
        ? { 'k.project': { $in: [...scope.projectIds] } }
        : { 'p.organization': { $in: [...scope.organizationIds] } };
  // One joined statement, read as plain rows: hydrating 500 keys as entities cost ten times the
  // query. Keys are read-only here and nothing else points at them; organizations and projects,
  // which many keys share, go through the fork's identity map (`em.merge`), one entity each.
  const rows = await em
    .createQueryBuilder(ProjectKey, 'k')
    .select(raw(selectList(em)))
    .join('k.project', 'p')
    .join('p.organization', 'o')
    .where(where as never)
    .orderBy({ id: 'asc' })
    .execute<KeyRowRaw[]>('all', false);

  const organizations = new Map<number, ConfigKey['project']['organization']>();
  const projects = new Map<number, ConfigKey['project']>();
  const templateIds = new Set<number>();
  const keys = new Map<string, ConfigKey>();
  for (const row of rows) {
    const organizationId = row.o__id as number;
    if (!organizations.has(organizationId)) organizations.set(organizationId, em.merge(Organization, columnsOf(row, 'o') as never) as unknown as ConfigKey['project']['organization']);
    const projectId = row.p__id as number;
    let project = projects.get(projectId);
    if (!project) {
      const templateId = row.p__template as number | null;
      if (templateId !== null) templateIds.add(templateId);
      project = em.merge(Project, { ...columnsOf(row, 'p'), organization: organizationId, template: templateId } as never) as unknown as ConfigKey['project'];
      projects.set(projectId, project);
    }
    const key = { ...columnsOf(row, 'k'), project } as unknown as ConfigKey;
    keys.set(key.publicKey, key);
  }

  // Options are read-only key/value rows here: plain rows, no entity hydration or change tracking
  // (thousands per batch; hydrating them was most of a build job's time).
  const organizationOptions = await optionRows(em, OrganizationOption, 'organization', new Set(organizations.keys()));
  const projectOptions = await optionRows(em, ProjectOption, 'project', new Set(projects.keys()));
  const templateOptions = await optionRows(em, ProjectTemplateOption, 'template', templateIds);

  return { keys, organizationOptions, projectOptions, templateOptions };
}

/** The columns of one alias of a joined row, by property name (`p__slug` → `slug`); the template reference is left out. */
function columnsOf(row: KeyRowRaw, alias: 'k' | 'p' | 'o'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const prefix = `${alias}__`;
  for (const name in row) {
    if (name.startsWith(prefix) && name !== 'p__template') out[name.slice(prefix.length)] = row[name];
  }
  return out;
}

type OptionEntity = typeof OrganizationOption | typeof ProjectOption | typeof ProjectTemplateOption;

const OPTION_ENTITY_NAMES = { organization: 'OrganizationOption', project: 'ProjectOption', template: 'ProjectTemplateOption' } as const;

/** The options of many owners in one statement, grouped by owner id. */
async function optionRows(em: EntityManager, entity: OptionEntity, owner: 'organization' | 'project' | 'template', ids: Set<number>): Promise<Map<number, Map<string, unknown>>> {
  // Unmapped rows (`owner`, `key`, `value` by their own aliases): mapping thousands of rows
  // through the entity metadata cost more than the query.
  const ownerColumn = (em.getMetadata().get(OPTION_ENTITY_NAMES[owner]).properties as Record<string, { fieldNames: string[] }>)[owner].fieldNames[0];
  const rows = await em
    .createQueryBuilder(entity as typeof ProjectOption, 'o')
    .select(raw(`o.${em.getPlatform().quoteIdentifier(ownerColumn)} as owner, o.key, o.value`))
    .where({ [owner]: { $in: [...ids] } } as never)
    .execute<{ owner: number; key: string; value: unknown }[]>('all', false);
  const grouped = new Map<number, Map<string, unknown>>();
  for (const row of rows) {
    let options = grouped.get(row.owner);
    if (!options) grouped.set(row.owner, (options = new Map<string, unknown>()));
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
