import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { disableKeysOnCommit } from '../db/config-change-subscriber';
import { newDsnKey } from '../db/dsn-key';
import { Project, ProjectKey, ProjectTemplate, type Organization, type Team } from '../db/entities';
import { ConflictError } from '../errors';
import { describeChange, recordAudit, type AuditActor } from './audit';
import type { Locate, ReadInput } from './locate';
import { storedOptions, projectOptionSources } from '../db/option-store';
import { PROJECT_OPTION_FIELDS, applyOptionWrites, featureCheckOf, optionWrites } from './option-fields';
import { conflictOnDuplicate, createFieldErrors, idSchema, nameSchema, parseBody, slugOrDerived, slugSchema, unknownFields } from './validation';

/**
 * Projects: created under a team with one active key, settings (basics, template, options) with
 * one `project.edit` audit entry, and scheduled deletion, which takes every key out of use.
 */

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

export interface CreateProject {
  actor: AuditActor;
  /** The team to create it under, in an organization that takes changes. */
  target: Locate<{ organization: Organization; team: Team }>;
  /** `{name, slug?, platform?}`. */
  input: ReadInput;
}

/** Creates a project and its first key ("Default"), one audit entry each; 409 when the slug is taken. */
export async function createProject(em: EntityManager, { actor, target, input }: CreateProject): Promise<Project> {
  const duplicate = 'A project with this slug already exists.';
  return conflictOnDuplicate(
    () =>
      em.transactional(async (tem) => {
        const { organization, team } = await target(tem);
        const body = parseBody(createSchema, input());
        const slug = slugOrDerived(body.slug, body.name);
        // Slugs of projects pending deletion stay taken: their keys and configs still name them.
        if ((await tem.count(Project, { organization, slug })) > 0) throw new ConflictError(duplicate);
        const created = tem.create(Project, { organization, team, slug, name: body.name, platform: body.platform ?? null });
        const key = tem.create(ProjectKey, { project: created, publicKey: newDsnKey(), secretKey: newDsnKey(), label: 'Default' });
        await tem.flush();
        recordAudit(tem, { organization, event: 'project.add', actor, targetObject: created.id, data: { slug, name: body.name, team: team.slug } });
        recordAudit(tem, { organization, event: 'projectkey.add', actor, targetObject: key.id, data: { project: slug, publicKey: key.publicKey, label: key.label } });
        return created;
      }),
    duplicate,
  );
}

export interface UpdateProject {
  actor: AuditActor;
  /** Finds and locks the project. */
  target: Locate<Project>;
  input: ReadInput;
  /** The server's `DEFAULT_FEATURES`: what feature-gated settings are checked against. */
  defaultFeatures: readonly string[];
}

/** Saves a project's settings: all problems in one `ValidationError`, then only real changes, in one audit entry. */
export async function updateProject(em: EntityManager, { actor, target, input, defaultFeatures }: UpdateProject): Promise<Project> {
  // The slug check inside can race with another project taking the slug: 409 then.
  return conflictOnDuplicate(
    () =>
      em.transactional(async (tem) => {
        const project = await target(tem);
        const organization = project.organization;
        const body = input();

        const errors = createFieldErrors();
        unknownFields(body, UPDATE_FIELDS, errors);
        const basics = errors.parse(basicsSchema, body) ?? {};
        if (basics.slug !== undefined && basics.slug !== project.slug && (await tem.count(Project, { organization, slug: basics.slug })) > 0) {
          errors.add('slug', `The slug "${basics.slug}" is already in use.`);
        }
        let template: ProjectTemplate | null | undefined;
        if (basics.templateId !== undefined) {
          template = basics.templateId === null ? null : await tem.findOne(ProjectTemplate, { id: basics.templateId, organization });
          if (template === null && basics.templateId !== null) errors.add('templateId', 'Project template not found in this organization.');
        }
        const sources = await projectOptionSources(tem, project);
        const features = featureCheckOf(defaultFeatures, await storedOptions(tem, { scope: 'organization', entity: organization }), sources.own, sources.template);
        const writes = optionWrites('project', PROJECT_OPTION_FIELDS, body, errors, new Map(), features);
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
        Object.assign(changes, await applyOptionWrites(tem, { scope: 'project', entity: project }, writes));
        if (Object.keys(changes).length > 0) {
          recordAudit(tem, { organization, event: 'project.edit', actor, targetObject: project.id, data: { project: project.slug, ...changes } });
        }
        return project;
      }),
    'The slug is already in use.',
  );
}

export interface DeleteProject {
  actor: AuditActor;
  /** Finds and locks the project. */
  target: Locate<Project>;
}

/** Schedules a project's deletion; its keys are out of use as soon as this commits (ADMIN_API.md, "Deletion"). */
export async function deleteProject(em: EntityManager, { actor, target }: DeleteProject): Promise<void> {
  await em.transactional(async (tem) => {
    const project = await target(tem);
    const organization = project.organization;
    project.status = 'pending_deletion';
    const keys = await tem.find(ProjectKey, { project }, { fields: ['publicKey'] });
    await disableKeysOnCommit(tem, { scope: 'project', organizationId: organization.id, projectId: project.id, trigger: 'project.delete' }, keys.map((k) => k.publicKey));
    recordAudit(tem, { organization, event: 'project.remove', actor, targetObject: project.id, data: { slug: project.slug, name: project.name } });
  });
}
