import type { Router } from 'express';
import { FILTER_IDS, filterValue, isFilterId, unknownFilter, updateFilter, type FilterId } from '../services/filters';
import { projectFor } from './access';
import { authOf, emOf, requestActor } from './auth';
import type { AdminDeps } from './deps';
import { jsonBody, pathParam } from './validation';

/** Inbound filters of a project (services/filters.ts holds the rules). */

/** The filter as the API shows it; `active` of legacy-browsers is false, true (the default set) or its subfilters, as in Sentry. */
function serializeFilter(id: FilterId, value: unknown) {
  if (id !== 'legacy-browsers') return { id, active: value === '1' };
  const subfilters = Array.isArray(value) ? (value as string[]) : value === '1' ? ['default'] : [];
  return { id, active: Array.isArray(value) ? subfilters : value === '1', subfilters };
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
    if (!isFilterId(id)) throw unknownFilter();
    res.json(serializeFilter(id, await filterValue(em, project, id)));
  });

  api.put('/projects/:org/:project/filters/:filterId/', ...authed, async (req, res) => {
    const { project, id } = await updateFilter(emOf(req), {
      actor: requestActor(req),
      target: (em) => projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:write'], { lock: true, mustBeActive: true }),
      filterId: pathParam(req, 'filterId'),
      input: () => jsonBody(req),
    });
    res.json(serializeFilter(id, await filterValue(emOf(req), project, id)));
  });
}
