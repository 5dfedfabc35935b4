import type { Router } from 'express';
import { Team } from '../db/entities';
import { createTeam } from '../services/teams';
import { organizationFor } from './access';
import { authOf, emOf, requestActor } from './auth';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeTeam } from './serializers';
import { jsonBody, pathParam } from './validation';

/** Teams of an organization; projects are created under a team (see projects.routes.ts). */

export function registerTeamRoutes(api: Router, { authed }: AdminDeps): void {
  api.get('/organizations/:org/teams/', ...authed, async (req, res) => {
    const em = emOf(req);
    const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:read']);
    const teams = await paginate(req, res, (offset, limit) => em.find(Team, { organization }, { orderBy: { slug: 'asc' }, offset, limit }));
    res.json(teams.map(serializeTeam));
  });

  api.post('/organizations/:org/teams/', ...authed, async (req, res) => {
    const team = await createTeam(emOf(req), {
      actor: requestActor(req),
      target: (em) => organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:write'], { mustBeActive: true }),
      input: () => jsonBody(req),
    });
    res.status(201).json(serializeTeam(team));
  });
}
