import type { EntityManager } from '@mikro-orm/postgresql';
import type { Router } from 'express';
import { z } from 'zod';
import { disableKeysOnCommit } from '../db/config-change-subscriber';
import { Organization, Project, ProjectKey, ProjectTemplate, Team } from '../db/entities';
import { newDsnKey } from '../db/dsn-key';
import { ConflictError, NotFoundError } from '../errors';
import { organizationFor, projectFor, visibleOrganization } from './access';
import { describeChange, recordAudit } from '../services/audit';
import { authOf, emOf, requireScope, requestActor } from './auth';
import { PROJECT_OPTION_FIELDS, applyOptionWrites, optionWrites, projectOptionSources } from '../services/option-fields';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeProject, serializeProjectDetails } from './serializers';
import { conflictOnDuplicate, createFieldErrors, idSchema, nameSchema, parseBody, slugOrDerived, slugSchema, unknownFields } from '../services/validation';
import { jsonBody, pathParam } from './validation';

/** Projects: created under a team with one active key, listed per organization, settings, scheduled deletion. */

const PROJECT_NAME_MAX = 200;

/** Sentry's platform ids are lower-case words joined by `-` or `.` (e.g. `javascript-react`). */
const platformSchema = z
  .string({ error: 'Must be a string.' })
  .max(64, 'Ensure this field has no more than 64 characters.')
  .regex(/^[a-z0-9_.-]+$/, 'Invalid platform: use lower-case letters, digits, ".", "_" and "-", e.g. "javascript-react".')
  .nullable();

const createSchema = z.strictObject({ name: nameSchema(PROJECT_NAME_MAX), slug: slugSchema.optional(), platform: platformSchema.optional() });

const basicsSchema = z.object({
  name: nameSchema(PROJECT_NAME_MAX).optional(),
  slug: slugSchema.optional(),
  platform: platformSchema.optional(),
  templateId: idSchema.nullable().optional(),
});

const UPDATE_FIELDS = ['name', 'slug', 'platform', 'templateId', 'options', ...PROJECT_OPTION_FIELDS.map((f) => f.field)];

/** The project with its own and its template's options, as responses show it. */
async function projectDetails(em: EntityManager, project: Project) {
  const { own, template } = await projectOptionSources(em, project);
  return serializeProjectDetails(project, own, template);
}

export function registerProjectRoutes(api: Router, { authed }: AdminDeps): void {
  api.post('/teams/:org/:team/projects/', ...authed, async (req, res) => {
    const duplicate = 'A project with this slug already exists.';
    const project = await conflictOnDuplicate(
      () =>
        emOf(req).transactional(async (em) => {
          const auth = authOf(req);
          const { organization, auth: scoped } = await visibleOrganization(em, auth, pathParam(req, 'org'));
          const team = await em.findOne(Team, { organization, slug: pathParam(req, 'team') });
          if (!team) throw new NotFoundError('The requested resource does not exist');
          requireScope(scoped, 'project:write');
          if (organization.status !== 'active') throw new ConflictError('The organization is pending deletion.');
          const body = parseBody(createSchema, jsonBody(req));
          const slug = slugOrDerived(body.slug, body.name);
          // Slugs of projects pending deletion stay taken: their keys and configs still name them.
          if ((await em.count(Project, { organization, slug })) > 0) throw new ConflictError(duplicate);
          const created = em.create(Project, { organization, team, slug, name: body.name, platform: body.platform ?? null });
          const key = em.create(ProjectKey, { project: created, publicKey: newDsnKey(), secretKey: newDsnKey(), label: 'Default' });
          await em.flush();
          recordAudit(em, { organization, event: 'project.add', actor: requestActor(req), targetObject: created.id, data: { slug, name: body.name, team: team.slug } });
          recordAudit(em, { organization, event: 'projectkey.add', actor: requestActor(req), targetObject: key.id, data: { project: slug, publicKey: key.publicKey, label: key.label } });
          return created;
        }),
      duplicate,
    );
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
    const body = jsonBody(req);
    // The slug check inside can race with another project taking the slug: 409 then.
    const project = await conflictOnDuplicate(
      () =>
        emOf(req).transactional(async (em) => {
          const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:write'], { lock: true, mustBeActive: true });
          const organization = project.organization as Organization;

          const errors = createFieldErrors();
          unknownFields(body, UPDATE_FIELDS, errors);
          const basics = errors.parse(basicsSchema, body) ?? {};
          if (basics.slug !== undefined && basics.slug !== project.slug && (await em.count(Project, { organization, slug: basics.slug })) > 0) {
            errors.add('slug', `The slug "${basics.slug}" is already in use.`);
          }
          let template: ProjectTemplate | null | undefined;
          if (basics.templateId !== undefined) {
            template = basics.templateId === null ? null : await em.findOne(ProjectTemplate, { id: basics.templateId, organization });
            if (template === null && basics.templateId !== null) errors.add('templateId', 'Project template not found in this organization.');
          }
          const writes = optionWrites('project', PROJECT_OPTION_FIELDS, body, errors);
          errors.throwIfAny();

          const changes: Record<string, string> = {};
          for (const field of ['name', 'slug', 'platform'] as const) {
            const value = basics[field];
            if (value !== undefined && value !== project[field]) {
              changes[field] = describeChange(project[field] ?? null, value, true);
              if (field === 'platform') project.platform = value;
              else project[field] = value as string;
            }
          }
          if (template !== undefined && (template?.id ?? null) !== (project.template?.id ?? null)) {
            changes.templateId = describeChange(project.template?.id ?? null, template?.id ?? null, true);
            project.template = template;
          }
          Object.assign(changes, await applyOptionWrites(em, { scope: 'project', entity: project }, writes));
          if (Object.keys(changes).length > 0) {
            recordAudit(em, { organization, event: 'project.edit', actor: requestActor(req), targetObject: project.id, data: { project: project.slug, ...changes } });
          }
          return project;
        }),
      'The slug is already in use.',
    );
    res.json(await projectDetails(emOf(req), project));
  });

  api.delete('/projects/:org/:project/', ...authed, async (req, res) => {
    await emOf(req).transactional(async (em) => {
      const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:admin'], { lock: true });
      const organization = project.organization as Organization;
      project.status = 'pending_deletion';
      const keys = await em.find(ProjectKey, { project }, { fields: ['publicKey'] });
      // Takes every key out of use as soon as this commits (ADMIN_API.md, "Deletion").
      disableKeysOnCommit(em, { scope: 'project', organizationId: organization.id, projectId: project.id, trigger: 'project.delete' }, keys.map((k) => k.publicKey));
      recordAudit(em, { organization, event: 'project.remove', actor: requestActor(req), targetObject: project.id, data: { slug: project.slug, name: project.name } });
    });
    res.status(204).end();
  });
}
