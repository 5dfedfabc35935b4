import { isDeepStrictEqual } from 'node:util';
import type { EntityManager } from '@mikro-orm/postgresql';
import { assertKnownOption, resolveOption, validateOption, type OptionScope, type OptionValue, type OptionValues, type OrganizationOptionName, type ProjectOptionName } from '../options/registry';
import {
  OrganizationOption,
  ProjectOption,
  ProjectTemplateOption,
  type Organization,
  type Project,
  type ProjectTemplate,
} from './entities';

/**
 * Organization, project and template options (CONFIG.md, "Options"). Writes validate against the
 * registry and are no-ops when the stored value is unchanged; they join the caller's unit of work
 * (nothing is flushed here), so invalidation follows that unit's commit.
 */

type Owner =
  | { scope: 'organization'; entity: Organization }
  | { scope: 'project'; entity: Project }
  | { scope: 'template'; entity: ProjectTemplate };

type OptionRow = { key: string; value: unknown };

function findRow(em: EntityManager, owner: Owner, key: string): Promise<OptionRow | null> {
  switch (owner.scope) {
    case 'organization':
      return em.findOne(OrganizationOption, { organization: owner.entity, key });
    case 'project':
      return em.findOne(ProjectOption, { project: owner.entity, key });
    case 'template':
      return em.findOne(ProjectTemplateOption, { template: owner.entity, key });
  }
}

function createRow(em: EntityManager, owner: Owner, key: string, value: unknown): void {
  switch (owner.scope) {
    case 'organization':
      em.create(OrganizationOption, { organization: owner.entity, key, value });
      return;
    case 'project':
      em.create(ProjectOption, { project: owner.entity, key, value });
      return;
    case 'template':
      em.create(ProjectTemplateOption, { template: owner.entity, key, value });
      return;
  }
}

const registryScope = (owner: Owner): OptionScope => (owner.scope === 'organization' ? 'organization' : 'project');

/**
 * Validates and stores an option. Returns false (and changes nothing) when the stored value is
 * already equal. Throws `OptionValidationError` for unknown keys and invalid values.
 */
export async function setOption(em: EntityManager, owner: Owner, key: string, value: unknown): Promise<boolean> {
  const parsed = validateOption(registryScope(owner), key, value);
  const row = await findRow(em, owner, key);
  if (row && isDeepStrictEqual(row.value, parsed)) return false;
  if (row) row.value = parsed;
  else createRow(em, owner, key, parsed);
  return true;
}

/** Removes a stored option (lookups fall back again). Returns false when none was stored. */
export async function deleteOption(em: EntityManager, owner: Owner, key: string): Promise<boolean> {
  assertKnownOption(registryScope(owner), key);
  const row = await findRow(em, owner, key);
  if (!row) return false;
  em.remove(row);
  return true;
}

/** All stored options of an owner, as a map. */
export async function storedOptions(em: EntityManager, owner: Owner): Promise<Map<string, unknown>> {
  let rows: OptionRow[];
  switch (owner.scope) {
    case 'organization':
      rows = await em.find(OrganizationOption, { organization: owner.entity });
      break;
    case 'project':
      rows = await em.find(ProjectOption, { project: owner.entity });
      break;
    case 'template':
      rows = await em.find(ProjectTemplateOption, { template: owner.entity });
      break;
  }
  return new Map(rows.map((r) => [r.key, r.value]));
}

/** An organization option's effective value (stored, else the registered default). */
export async function getOrganizationOption<K extends OrganizationOptionName>(em: EntityManager, organization: Organization, key: K): Promise<OptionValue<K>> {
  return resolveOption(key, await storedOptions(em, { scope: 'organization', entity: organization }));
}

/** A project's stored options and its template's, from which its effective values resolve. */
export async function projectOptionSources(em: EntityManager, project: Project): Promise<{ own: OptionValues; template: OptionValues | null }> {
  const own = await storedOptions(em, { scope: 'project', entity: project });
  const template = project.template ? await storedOptions(em, { scope: 'template', entity: project.template }) : null;
  return { own, template };
}

/** A project option's effective value: the project's own, else its template's, else the default. */
export async function getProjectOption<K extends ProjectOptionName>(em: EntityManager, project: Project, key: K): Promise<OptionValue<K>> {
  const { own, template } = await projectOptionSources(em, project);
  return resolveOption(key, own, template);
}
