import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { newDsnKey } from '../db/dsn-key';
import { ProjectKey, type Project } from '../db/entities';
import { describeChange, recordAudit, type AuditActor } from './audit';
import type { Locate, ReadInput } from './locate';
import { parseBody } from './validation';

/**
 * DSN keys of a project: create, change (label, active, rate limit) and delete, each with its
 * audit entry. Every change that reaches configs is invalidated by the config-change subscriber
 * when the transaction commits.
 */

export { PUBLIC_KEY_RE } from '../formats';

const rateLimitSchema = z
  .strictObject({
    count: z.int({ error: 'count must be a whole number.' }).min(0, 'count must be at least 0.').max(2_147_483_647, 'count is too large.'),
    window: z.int({ error: 'window must be a whole number of seconds.' }).min(1, 'window must be at least 1 second.').max(86_400, 'window must be at most 86400 seconds (one day).'),
  })
  .nullable();

const labelSchema = z
  .string({ error: 'Must be a string.' })
  .trim()
  .max(64, 'Ensure this field has no more than 64 characters.')
  .nullable()
  .transform((v) => (v === '' ? null : v));

const createSchema = z.strictObject({ name: labelSchema.optional(), rateLimit: rateLimitSchema.optional() });
const updateSchema = z.strictObject({
  name: labelSchema.optional(),
  isActive: z.boolean({ error: 'Must be a boolean.' }).optional(),
  rateLimit: rateLimitSchema.optional(),
});

/** A key's rate limit as the API shows it; null when it has none (a limit needs a count and a window). */
export function keyRateLimit(key: ProjectKey): { count: number; window: number } | null {
  return key.rateLimitCount !== null && key.rateLimitCount !== undefined && key.rateLimitWindow ? { count: key.rateLimitCount, window: key.rateLimitWindow } : null;
}

export interface CreateKey {
  actor: AuditActor;
  /** The project to add it to, in an organization that takes changes. */
  target: Locate<Project>;
  /** `{name?, rateLimit?}`. */
  input: ReadInput;
}

/** Creates an active key with fresh public and secret parts. */
export async function createKey(em: EntityManager, { actor, target, input }: CreateKey): Promise<ProjectKey> {
  return em.transactional(async (tem) => {
    const project = await target(tem);
    const body = parseBody(createSchema, input());
    const created = tem.create(ProjectKey, {
      project,
      publicKey: newDsnKey(),
      secretKey: newDsnKey(),
      label: body.name ?? null,
      rateLimitCount: body.rateLimit?.count ?? null,
      rateLimitWindow: body.rateLimit?.window ?? null,
    });
    await tem.flush();
    recordAudit(tem, {
      organization: project.organization,
      event: 'projectkey.add',
      actor,
      targetObject: created.id,
      data: { project: project.slug, publicKey: created.publicKey, label: created.label, rateLimit: body.rateLimit ?? null },
    });
    return created;
  });
}

export interface KeyTarget {
  actor: AuditActor;
  /** Finds (and, for changes, locks) the key with its project. */
  target: Locate<{ project: Project; key: ProjectKey }>;
}

/** Changes a key's label, status or rate limit; only real changes are written and audited. */
export async function updateKey(em: EntityManager, { actor, target, input }: KeyTarget & { input: ReadInput }): Promise<ProjectKey> {
  return em.transactional(async (tem) => {
    const { project, key } = await target(tem);
    const body = parseBody(updateSchema, input());
    const changes: Record<string, string> = {};
    if (body.name !== undefined && body.name !== (key.label ?? null)) {
      changes.name = describeChange(key.label ?? null, body.name, true);
      key.label = body.name;
    }
    const status = body.isActive === undefined ? key.status : body.isActive ? 'active' : 'inactive';
    if (status !== key.status) {
      changes.isActive = describeChange(key.status === 'active', status === 'active', true);
      key.status = status;
    }
    if (body.rateLimit !== undefined) {
      const before = keyRateLimit(key);
      if (JSON.stringify(before) !== JSON.stringify(body.rateLimit)) {
        changes.rateLimit = describeChange(before, body.rateLimit, true);
        key.rateLimitCount = body.rateLimit?.count ?? null;
        key.rateLimitWindow = body.rateLimit?.window ?? null;
      }
    }
    if (Object.keys(changes).length > 0) {
      recordAudit(tem, {
        organization: project.organization,
        event: 'projectkey.edit',
        actor,
        targetObject: key.id,
        data: { project: project.slug, publicKey: key.publicKey, ...changes },
      });
    }
    return key;
  });
}

/** Deletes a key; the config-change subscriber takes it out of use when this commits. */
export async function deleteKey(em: EntityManager, { actor, target }: KeyTarget): Promise<void> {
  await em.transactional(async (tem) => {
    const { project, key } = await target(tem);
    recordAudit(tem, {
      organization: project.organization,
      event: 'projectkey.remove',
      actor,
      targetObject: key.id,
      data: { project: project.slug, publicKey: key.publicKey, label: key.label ?? null },
    });
    tem.remove(key);
  });
}
