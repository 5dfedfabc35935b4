import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Router } from 'express';
import { z } from 'zod';
import { ProjectKey, type Organization, type Project, type ProjectKeyStatus } from '../db/entities';
import { newDsnKey } from '../db/dsn-key';
import { NotFoundError } from '../errors';
import { projectFor, type LookupOptions } from './access';
import { describeChange, recordAudit } from '../services/audit';
import { authOf, emOf, type Scope, requestActor } from './auth';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { keyRateLimit, serializeKey } from './serializers';
import { createFieldErrors, parseBody } from '../services/validation';
import { jsonBody, pathParam } from './validation';

/**
 * DSN keys of a project. Every change that reaches configs (status, rate limit, deletion) is
 * invalidated by the config-change subscriber when the transaction commits.
 */

const PUBLIC_KEY_RE = /^[0-9a-f]{32}$/;

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

async function keyFor(em: EntityManager, req: Request, scope: Scope, options: LookupOptions = {}): Promise<{ project: Project; key: ProjectKey }> {
  const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), [scope], options);
  const keyId = pathParam(req, 'keyId');
  const key = PUBLIC_KEY_RE.test(keyId) ? await em.findOne(ProjectKey, { project, publicKey: keyId }) : null;
  if (!key) throw new NotFoundError('The requested resource does not exist');
  return { project, key };
}

export function registerKeyRoutes(api: Router, { authed }: AdminDeps): void {
  api.get('/projects/:org/:project/keys/', ...authed, async (req, res) => {
    const em = emOf(req);
    const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:read']);
    const status = req.query.status;
    const errors = createFieldErrors();
    if (status !== undefined && status !== 'active' && status !== 'inactive') errors.add('status', 'Must be "active" or "inactive".');
    errors.throwIfAny();
    const where = { project, ...(status === 'active' || status === 'inactive' ? { status: status as ProjectKeyStatus } : {}) };
    const keys = await paginate(req, res, (offset, limit) => em.find(ProjectKey, where, { orderBy: { id: 'asc' }, offset, limit }));
    res.json(keys.map((k) => serializeKey(req, k)));
  });

  api.post('/projects/:org/:project/keys/', ...authed, async (req, res) => {
    const key = await emOf(req).transactional(async (em) => {
      const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:write'], { mustBeActive: true });
      const body = parseBody(createSchema, jsonBody(req));
      const created = em.create(ProjectKey, {
        project,
        publicKey: newDsnKey(),
        secretKey: newDsnKey(),
        label: body.name ?? null,
        rateLimitCount: body.rateLimit?.count ?? null,
        rateLimitWindow: body.rateLimit?.window ?? null,
      });
      await em.flush();
      recordAudit(em, {
        organization: project.organization as Organization,
        event: 'projectkey.add',
        actor: requestActor(req),
        targetObject: created.id,
        data: { project: project.slug, publicKey: created.publicKey, label: created.label, rateLimit: body.rateLimit ?? null },
      });
      return created;
    });
    res.status(201).json(serializeKey(req, key));
  });

  api.get('/projects/:org/:project/keys/:keyId/', ...authed, async (req, res) => {
    const { key } = await keyFor(emOf(req), req, 'project:read');
    res.json(serializeKey(req, key));
  });

  api.put('/projects/:org/:project/keys/:keyId/', ...authed, async (req, res) => {
    const key = await emOf(req).transactional(async (em) => {
      const { project, key } = await keyFor(em, req, 'project:write', { lock: true, mustBeActive: true });
      const body = parseBody(updateSchema, jsonBody(req));
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
        recordAudit(em, {
          organization: project.organization as Organization,
          event: 'projectkey.edit',
          actor: requestActor(req),
          targetObject: key.id,
          data: { project: project.slug, publicKey: key.publicKey, ...changes },
        });
      }
      return key;
    });
    res.json(serializeKey(req, key));
  });

  api.delete('/projects/:org/:project/keys/:keyId/', ...authed, async (req, res) => {
    await emOf(req).transactional(async (em) => {
      const { project, key } = await keyFor(em, req, 'project:admin');
      recordAudit(em, {
        organization: project.organization as Organization,
        event: 'projectkey.remove',
        actor: requestActor(req),
        targetObject: key.id,
        data: { project: project.slug, publicKey: key.publicKey, label: key.label ?? null },
      });
      // The subscriber takes the deleted key out of use when this commits.
      em.remove(key);
    });
    res.status(204).end();
  });
}
