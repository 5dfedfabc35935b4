import type { EntityManager } from '@mikro-orm/postgresql';
import type { Router } from 'express';
import { Project, Team } from '../db/entities';
import { storedOptions } from '../db/option-store';
import { ConflictError, NotFoundError } from '../errors';
import { projectOptionSources } from '../services/option-fields';
import { createProject, deleteProject, updateProject } from '../services/projects';
import { organizationFor, projectFor, visibleOrganization } from './access';
import { authOf, emOf, requestActor, requireScope } from './auth';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeProject, serializeProjectDetails } from './serializers';
import { jsonBody, pathParam } from './validation';

/** Projects: created under a team with one active key, listed per organization, settings, scheduled deletion (services/projects.ts). */

/** The project with its own and its template's options, as responses show it. */
async function projectDetailsWith(em: EntityManager, project: Project, defaultFeatures: readonly string[]) {
  const { own, template } = await projectOptionSources(em, project);
  const organizationOptions = await storedOptions(em, { scope: 'organization', entity: project.organization });
  return serializeProjectDetails(project, own, template, organizationOptions, defaultFeatures);
}

export function registerProjectRoutes(api: Router, { authed, container }: AdminDeps): void {
  const projectDetails = (em: EntityManager, project: Project) => projectDetailsWith(em, project, container.settings.defaultFeatures);
  api.post('/teams/:org/:team/projects/', ...authed, async (req, res) => {
    const project = await createProject(emOf(req), {
      actor: requestActor(req),
      target: async (em) => {
        const { organization, auth } = await visibleOrganization(em, authOf(req), pathParam(req, 'org'));
        const team = await em.findOne(Team, { organization, slug: pathParam(req, 'team') });
        if (!team) throw new NotFoundError('The requested resource does not exist');
        requireScope(auth, 'project:write');
        if (organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
        return { organization, team };
      },
      input: () => jsonBody(req),
    });
    res.status(201).json(await projectDetails(emOf(req), project));
  });

  api.get('/organizations/:org/projects/', ...authed, async (req, res) => {
    const em = emOf(req);
    // Listing projects is reading the organization or its projects; either scope will do.
    const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['project:read', 'org:read']);
    const projects = await paginate(req, res, (offset, limit) =>
      em.find(Project, { organization, status: 'active' }, { populate: ['team', 'template'], orderBy: { slug: 'asc' }, offset, limit }),
    );
    res.json(projects.map(serializeProject));
  });

  api.get('/projects/:org/:project/', ...authed, async (req, res) => {
    const em = emOf(req);
    const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:read']);
    res.json(await projectDetails(em, project));
  });

  api.put('/projects/:org/:project/', ...authed, async (req, res) => {
    const input = jsonBody(req);
    const project = await updateProject(emOf(req), {
      actor: requestActor(req),
      target: (em) => projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:write'], { lock: true, mustBeActive: true }),
      input: () => input,
      defaultFeatures: container.settings.defaultFeatures,
    });
    res.json(await projectDetails(emOf(req), project));
  });

  api.delete('/projects/:org/:project/', ...authed, async (req, res) => {
    await deleteProject(emOf(req), {
      actor: requestActor(req),
      target: (em) => projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:admin'], { lock: true }),
    });
    res.status(204).end();
  });
}
