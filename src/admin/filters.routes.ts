import type { EntityManager } from '@mikro-orm/postgresql';
import type { Router } from 'express';
import { z } from 'zod';
import type { Organization, Project } from '../db/entities';
import { LEGACY_BROWSER_SUBFILTERS, resolveOption } from '../options/registry';
import { NotFoundError } from '../errors';
import { projectFor } from './access';
import { recordAudit } from '../services/audit';
import { authOf, emOf, requestActor } from './auth';
import { applyOptionWrites, projectOptionSources } from '../services/option-fields';
import type { AdminDeps } from './deps';
import { parseBody } from '../services/validation';
import { jsonBody, pathParam } from './validation';

/**
 * Inbound filters of a project (`filters:<id>` project options): most are on or off;
 * `legacy-browsers` takes a list of subfilters (an empty list turns it off).
 */

export const FILTER_IDS = ['browser-extensions', 'localhost', 'web-crawlers', 'filtered-transaction', 'legacy-browsers'] as const;
type FilterId = (typeof FILTER_IDS)[number];

const isFilterId = (id: string): id is FilterId => (FILTER_IDS as readonly string[]).includes(id);

const switchSchema = z.strictObject({ active: z.boolean({ error: 'Must be a boolean.' }) });
const legacySchema = z
  .strictObject({
    active: z.boolean({ error: 'Must be a boolean.' }).optional(),
    subfilters: z
      .array(z.enum(LEGACY_BROWSER_SUBFILTERS, { error: `Unknown subfilter; use any of ${LEGACY_BROWSER_SUBFILTERS.join(', ')}.` }), { error: 'Must be a list of subfilters.' })
      .optional(),
  })
  .refine((v) => (v.active === undefined) !== (v.subfilters === undefined), { message: 'Send either "active" or "subfilters".' });

/** The filter as the API shows it; `active` of legacy-browsers is false, true (the default set) or its subfilters, as in Sentry. */
function serializeFilter(id: FilterId, value: unknown) {
  if (id !== 'legacy-browsers') return { id, active: value === '1' };
  const subfilters = Array.isArray(value) ? (value as string[]) : value === '1' ? ['default'] : [];
  return { id, active: Array.isArray(value) ? subfilters : value === '1', subfilters };
}

async function filterValue(em: EntityManager, project: Project, id: FilterId): Promise<unknown> {
  const { own, template } = await projectOptionSources(em, project);
  return resolveOption(`filters:${id}`, own, template);
}

export function registerFilterRoutes(api: Router, { authed }: AdminDeps): void {
  api.get('/projects/:org/:project/filters/', ...authed, async (req, res) => {
    const em = emOf(req);
    const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:read']);
    const filters = [];
    for (const id of FILTER_IDS) filters.push(serializeFilter(id, await filterValue(em, project, id)));
    res.json(filters);
  });

  api.get('/projects/:org/:project/filters/:filterId/', ...authed, async (req, res) => {
    const em = emOf(req);
    const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:read']);
    const id = pathParam(req, 'filterId');
    if (!isFilterId(id)) throw new NotFoundError(`Unknown inbound filter; use one of ${FILTER_IDS.join(', ')}.`);
    res.json(serializeFilter(id, await filterValue(em, project, id)));
  });

  api.put('/projects/:org/:project/filters/:filterId/', ...authed, async (req, res) => {
    const id = pathParam(req, 'filterId');
    const project = await emOf(req).transactional(async (em) => {
      const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:write'], { lock: true, mustBeActive: true });
      if (!isFilterId(id)) throw new NotFoundError(`Unknown inbound filter; use one of ${FILTER_IDS.join(', ')}.`);
      let value: unknown;
      if (id === 'legacy-browsers') {
        const body = parseBody(legacySchema, jsonBody(req));
        value = body.subfilters !== undefined ? (body.subfilters.length > 0 ? [...new Set(body.subfilters)] : '0') : body.active ? '1' : '0';
      } else {
        value = parseBody(switchSchema, jsonBody(req)).active ? '1' : '0';
      }
      const key = `filters:${id}`;
      const changes = await applyOptionWrites(em, { scope: 'project', entity: project }, [{ label: key, key, value }]);
      if (Object.keys(changes).length > 0) {
        recordAudit(em, { organization: project.organization as Organization, event: 'project.edit', actor: requestActor(req), targetObject: project.id, data: { project: project.slug, ...changes } });
      }
      return project;
    });
    res.json(serializeFilter(id as FilterId, await filterValue(emOf(req), project, id as FilterId)));
  });
}
