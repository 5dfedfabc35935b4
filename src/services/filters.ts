import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { Project } from '../db/entities';
import { NotFoundError } from '../errors';
import { LEGACY_BROWSER_SUBFILTERS, resolveOption } from '../options/registry';
import { recordAudit, type AuditActor } from './audit';
import type { Locate, ReadInput } from './locate';
import { applyOptionWrites, projectOptionSources } from './option-fields';
import { parseBody } from './validation';

/**
 * Inbound filters of a project (`filters:<id>` project options): most are on or off;
 * `legacy-browsers` takes a list of subfilters (an empty list turns it off).
 */

export const FILTER_IDS = ['browser-extensions', 'localhost', 'web-crawlers', 'filtered-transaction', 'chunk-load-error', 'react-hydration-errors', 'legacy-browsers'] as const;
export type FilterId = (typeof FILTER_IDS)[number];

export const isFilterId = (id: string): id is FilterId => (FILTER_IDS as readonly string[]).includes(id);

/** The 404 of an id that names no filter. */
export function unknownFilter(): NotFoundError {
  return new NotFoundError(`Unknown inbound filter; use one of ${FILTER_IDS.join(', ')}.`);
}

const switchSchema = z.strictObject({ active: z.boolean({ error: 'Must be a boolean.' }) });
const legacySchema = z
  .strictObject({
    active: z.boolean({ error: 'Must be a boolean.' }).optional(),
    subfilters: z
      .array(z.enum(LEGACY_BROWSER_SUBFILTERS, { error: `Unknown subfilter; use any of ${LEGACY_BROWSER_SUBFILTERS.join(', ')}.` }), { error: 'Must be a list of subfilters.' })
      .optional(),
  })
  .refine((v) => (v.active === undefined) !== (v.subfilters === undefined), { message: 'Send either "active" or "subfilters".' });

/** The stored value of a filter in effect for a project: its own, else its template's, else the default. */
export async function filterValue(em: EntityManager, project: Project, id: FilterId): Promise<unknown> {
  const { own, template } = await projectOptionSources(em, project);
  return resolveOption(`filters:${id}`, own, template);
}

export interface UpdateFilter {
  actor: AuditActor;
  /** Finds and locks the project. */
  target: Locate<Project>;
  /** Any text: an unknown id is a 404 once the project is found. */
  filterId: string;
  /** `{active}`, or for legacy-browsers `{active}` or `{subfilters}`. */
  input: ReadInput;
}

/** Turns a filter on or off (or sets its subfilters); a real change is one `project.edit` audit entry. */
export async function updateFilter(em: EntityManager, { actor, target, filterId, input }: UpdateFilter): Promise<{ project: Project; id: FilterId }> {
  return em.transactional(async (tem) => {
    const project = await target(tem);
    if (!isFilterId(filterId)) throw unknownFilter();
    let value: unknown;
    if (filterId === 'legacy-browsers') {
      const body = parseBody(legacySchema, input());
      value = body.subfilters !== undefined ? (body.subfilters.length > 0 ? [...new Set(body.subfilters)] : '0') : body.active ? '1' : '0';
    } else {
      value = parseBody(switchSchema, input()).active ? '1' : '0';
    }
    const key = `filters:${filterId}`;
    const changes = await applyOptionWrites(tem, { scope: 'project', entity: project }, [{ label: key, key, value }]);
    if (Object.keys(changes).length > 0) {
      recordAudit(tem, { organization: project.organization, event: 'project.edit', actor, targetObject: project.id, data: { project: project.slug, ...changes } });
    }
    return { project, id: filterId };
  });
}
