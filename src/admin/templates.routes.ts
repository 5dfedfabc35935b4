import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Router } from 'express';
import { ProjectTemplate, type Organization } from '../db/entities';
import { storedOptions } from '../db/option-store';
import { NotFoundError } from '../errors';
import { createTemplate, deleteTemplate, updateTemplate } from '../services/templates';
import { organizationFor, type LookupOptions } from './access';
import { authOf, emOf, requestActor, type Scope } from './auth';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeTemplate } from './serializers';
import { jsonBody, parseId, pathParam } from './validation';

/** Project templates of an organization (services/templates.ts holds the use cases). */

async function templateFor(em: EntityManager, req: Request, scope: Scope, options: LookupOptions = {}): Promise<{ organization: Organization; template: ProjectTemplate }> {
  const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), [scope], options);
  const id = parseId(pathParam(req, 'templateId'));
  const template = id === null ? null : await em.findOne(ProjectTemplate, { id, organization });
  if (!template) throw new NotFoundError('The requested resource does not exist');
  return { organization, template };
}

async function details(em: EntityManager, template: ProjectTemplate) {
  return serializeTemplate(template, await storedOptions(em, { scope: 'template', entity: template }));
}

export function registerTemplateRoutes(api: Router, { authed }: AdminDeps): void {
  api.get('/organizations/:org/project-templates/', ...authed, async (req, res) => {
    const em = emOf(req);
    const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:read']);
    const templates = await paginate(req, res, (offset, limit) => em.find(ProjectTemplate, { organization }, { orderBy: { name: 'asc', id: 'asc' }, offset, limit }));
    const body = [];
    for (const template of templates) body.push(await details(em, template));
    res.json(body);
  });

  api.post('/organizations/:org/project-templates/', ...authed, async (req, res) => {
    const template = await createTemplate(emOf(req), {
      actor: requestActor(req),
      target: (em) => organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:write'], { mustBeActive: true }),
      input: () => jsonBody(req),
    });
    res.status(201).json(await details(emOf(req), template));
  });

  api.get('/organizations/:org/project-templates/:templateId/', ...authed, async (req, res) => {
    const em = emOf(req);
    const { template } = await templateFor(em, req, 'org:read');
    res.json(await details(em, template));
  });

  api.put('/organizations/:org/project-templates/:templateId/', ...authed, async (req, res) => {
    const template = await updateTemplate(emOf(req), {
      actor: requestActor(req),
      target: (em) => templateFor(em, req, 'org:write', { mustBeActive: true }),
      input: () => jsonBody(req),
    });
    res.json(await details(emOf(req), template));
  });

  api.delete('/organizations/:org/project-templates/:templateId/', ...authed, async (req, res) => {
    await deleteTemplate(emOf(req), { actor: requestActor(req), target: (em) => templateFor(em, req, 'org:admin') });
    res.status(204).end();
  });
}
