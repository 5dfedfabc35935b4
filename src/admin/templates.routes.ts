import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Router } from 'express';
import { z } from 'zod';
import { Project, ProjectTemplate, type Organization } from '../db/entities';
import { storedOptions } from '../db/option-store';
import { ConflictError, NotFoundError } from '../errors';
import { organizationFor, type LookupOptions } from './access';
import { describeChange, recordAudit } from '../services/audit';
import { authOf, emOf, type Scope, requestActor } from './auth';
import { applyOptionWrites, optionWrites } from '../services/option-fields';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeTemplate } from './serializers';
import { conflictOnDuplicate, createFieldErrors, nameSchema, unknownFields } from '../services/validation';
import { jsonBody, parseId, pathParam } from './validation';

/**
 * Project templates: project options an organization shares between projects (a project's own
 * value wins, then its template's, then the default). A template option change invalidates the
 * projects using it (the config-change subscriber does it on commit).
 */

const NAME_MAX = 200;
const FIELDS = ['name', 'options'];
const duplicate = 'A project template with this name already exists.';

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
    const template = await conflictOnDuplicate(
      () =>
        emOf(req).transactional(async (em) => {
          const organization = await organizationFor(em, authOf(req), pathParam(req, 'org'), ['org:write'], { mustBeActive: true });
          const body = jsonBody(req);
          const errors = createFieldErrors();
          unknownFields(body, FIELDS, errors);
          const name = errors.parse(z.object({ name: nameSchema(NAME_MAX) }), body)?.name;
          const writes = optionWrites('project', [], { options: body.options ?? {} }, errors);
          errors.throwIfAny();
          if ((await em.count(ProjectTemplate, { organization, name })) > 0) throw new ConflictError(duplicate);
          const created = em.create(ProjectTemplate, { organization, name: name! });
          await em.flush();
          await applyOptionWrites(em, { scope: 'template', entity: created }, writes);
          recordAudit(em, { organization, event: 'projecttemplate.add', actor: requestActor(req), targetObject: created.id, data: { name: created.name } });
          return created;
        }),
      duplicate,
    );
    res.status(201).json(await details(emOf(req), template));
  });

  api.get('/organizations/:org/project-templates/:templateId/', ...authed, async (req, res) => {
    const em = emOf(req);
    const { template } = await templateFor(em, req, 'org:read');
    res.json(await details(em, template));
  });

  api.put('/organizations/:org/project-templates/:templateId/', ...authed, async (req, res) => {
    const template = await conflictOnDuplicate(
      () =>
        emOf(req).transactional(async (em) => {
          const { organization, template } = await templateFor(em, req, 'org:write', { mustBeActive: true });
          const body = jsonBody(req);
          const errors = createFieldErrors();
          unknownFields(body, FIELDS, errors);
          const name = errors.parse(z.object({ name: nameSchema(NAME_MAX).optional() }), body)?.name;
          if (name !== undefined && name !== template.name && (await em.count(ProjectTemplate, { organization, name })) > 0) {
            errors.add('name', duplicate);
          }
          const writes = optionWrites('project', [], body, errors);
          errors.throwIfAny();
          const changes: Record<string, string> = {};
          if (name !== undefined && name !== template.name) {
            changes.name = describeChange(template.name, name, true);
            template.name = name;
          }
          Object.assign(changes, await applyOptionWrites(em, { scope: 'template', entity: template }, writes));
          if (Object.keys(changes).length > 0) {
            recordAudit(em, { organization, event: 'projecttemplate.edit', actor: requestActor(req), targetObject: template.id, data: { template: template.name, ...changes } });
          }
          return template;
        }),
      duplicate,
    );
    res.json(await details(emOf(req), template));
  });

  api.delete('/organizations/:org/project-templates/:templateId/', ...authed, async (req, res) => {
    await emOf(req).transactional(async (em) => {
      const { organization, template } = await templateFor(em, req, 'org:admin');
      // Detach through the ORM (not the foreign key's SET NULL) so each project's configs are invalidated.
      const projects = await em.find(Project, { template });
      for (const project of projects) project.template = null;
      await em.flush();
      recordAudit(em, { organization, event: 'projecttemplate.remove', actor: requestActor(req), targetObject: template.id, data: { name: template.name, projects: projects.map((p) => p.slug) } });
      em.remove(template);
    });
    res.status(204).end();
  });
}
