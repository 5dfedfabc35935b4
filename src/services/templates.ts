import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { Project, ProjectTemplate, type Organization } from '../db/entities';
import { ConflictError } from '../errors';
import { describeChange, recordAudit, type AuditActor } from './audit';
import type { Locate, ReadInput } from './locate';
import { applyOptionWrites, optionWrites } from './option-fields';
import { conflictOnDuplicate, createFieldErrors, nameSchema, unknownFields } from './validation';

/**
 * Project templates: project options an organization shares between projects (a project's own
 * value wins, then its template's, then the default). A template option change invalidates the
 * projects using it (the config-change subscriber does it on commit).
 */

const NAME_MAX = 200;
const FIELDS = ['name', 'options'];
const duplicate = 'A project template with this name already exists.';

export interface CreateTemplate {
  actor: AuditActor;
  /** An organization that takes changes. */
  target: Locate<Organization>;
  /** `{name, options?}`. */
  input: ReadInput;
}

export async function createTemplate(em: EntityManager, { actor, target, input }: CreateTemplate): Promise<ProjectTemplate> {
  return conflictOnDuplicate(
    () =>
      em.transactional(async (tem) => {
        const organization = await target(tem);
        const body = input();
        const errors = createFieldErrors();
        unknownFields(body, FIELDS, errors);
        const name = errors.parse(z.object({ name: nameSchema(NAME_MAX) }), body)?.name;
        const writes = optionWrites('project', [], { options: body.options ?? {} }, errors);
        errors.throwIfAny();
        if ((await tem.count(ProjectTemplate, { organization, name })) > 0) throw new ConflictError(duplicate);
        const created = tem.create(ProjectTemplate, { organization, name: name! });
        await tem.flush();
        await applyOptionWrites(tem, { scope: 'template', entity: created }, writes);
        recordAudit(tem, { organization, event: 'projecttemplate.add', actor, targetObject: created.id, data: { name: created.name } });
        return created;
      }),
    duplicate,
  );
}

export interface TemplateTarget {
  actor: AuditActor;
  target: Locate<{ organization: Organization; template: ProjectTemplate }>;
}

/** Renames a template and changes its options (`options` values null remove one); one audit entry for real changes. */
export async function updateTemplate(em: EntityManager, { actor, target, input }: TemplateTarget & { input: ReadInput }): Promise<ProjectTemplate> {
  return conflictOnDuplicate(
    () =>
      em.transactional(async (tem) => {
        const { organization, template } = await target(tem);
        const body = input();
        const errors = createFieldErrors();
        unknownFields(body, FIELDS, errors);
        const name = errors.parse(z.object({ name: nameSchema(NAME_MAX).optional() }), body)?.name;
        if (name !== undefined && name !== template.name && (await tem.count(ProjectTemplate, { organization, name })) > 0) {
          errors.add('name', duplicate);
        }
        const writes = optionWrites('project', [], body, errors);
        errors.throwIfAny();
        const changes: Record<string, string> = {};
        if (name !== undefined && name !== template.name) {
          changes.name = describeChange(template.name, name, true);
          template.name = name;
        }
        Object.assign(changes, await applyOptionWrites(tem, { scope: 'template', entity: template }, writes));
        if (Object.keys(changes).length > 0) {
          recordAudit(tem, { organization, event: 'projecttemplate.edit', actor, targetObject: template.id, data: { template: template.name, ...changes } });
        }
        return template;
      }),
    duplicate,
  );
}

/** Deletes a template; the projects using it fall back to their own options and the defaults. */
export async function deleteTemplate(em: EntityManager, { actor, target }: TemplateTarget): Promise<void> {
  await em.transactional(async (tem) => {
    const { organization, template } = await target(tem);
    // Detach through the ORM (not the foreign key's SET NULL) so each project's configs are invalidated.
    const projects = await tem.find(Project, { template });
    for (const project of projects) project.template = null;
    await tem.flush();
    recordAudit(tem, { organization, event: 'projecttemplate.remove', actor, targetObject: template.id, data: { name: template.name, projects: projects.map((p) => p.slug) } });
    tem.remove(template);
  });
}
