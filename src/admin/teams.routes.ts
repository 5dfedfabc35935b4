import type { Router } from 'express';
import { z } from 'zod';
import { Team } from '../db/entities';
import { ConflictError } from '../errors';
import { organizationFor } from './access';
import { recordAudit } from '../services/audit';
import { authOf, emOf, requestActor } from './auth';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeTeam } from './serializers';
import { conflictOnDuplicate, nameSchema, parseBody, slugOrDerived, slugSchema } from '../services/validation';
import { jsonBody, pathParam } from './validation';

/** Teams of an organization; projects are created under a team (see projects.routes.ts). */

const createSchema = z.strictObject({ name: nameSchema(64), slug: slugSchema.optional() });

export function registerTeamRoutes(api: Router, { authed }: AdminDeps): void {
  api.get('/organizations/:org/teams/', ...authed, async (req, res) => {
    const em = emOf(req);
    const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:read']);
    const teams = await paginate(req, res, (offset, limit) => em.find(Team, { organization }, { orderBy: { slug: 'asc' }, offset, limit }));
    res.json(teams.map(serializeTeam));
  });

  api.post('/organizations/:org/teams/', ...authed, async (req, res) => {
    const duplicate = 'A team with this slug already exists.';
    const team = await conflictOnDuplicate(
      () =>
        emOf(req).transactional(async (em) => {
          const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:write'], { mustBeActive: true });
          const body = parseBody(createSchema, jsonBody(req));
          const slug = slugOrDerived(body.slug, body.name);
          if ((await em.count(Team, { organization, slug })) > 0) throw new ConflictError(duplicate);
          const created = em.create(Team, { organization, slug, name: body.name });
          await em.flush();
          recordAudit(em, { organization, event: 'team.add', actor: requestActor(req), targetObject: created.id, data: { slug, name: body.name } });
          return created;
        }),
      duplicate,
    );
    res.status(201).json(serializeTeam(team));
  });
}
