import type { EntityManager } from '@mikro-orm/postgresql';
import type { Request, Router } from 'express';
import { ProjectKey, type Project, type ProjectKeyStatus } from '../db/entities';
import { NotFoundError } from '../errors';
import { createKey, deleteKey, PUBLIC_KEY_RE, updateKey } from '../services/keys';
import { keyStatus } from '../services/operations';
import { createFieldErrors } from '../services/validation';
import { projectFor, type LookupOptions } from './access';
import { authOf, emOf, requestActor, type Scope } from './auth';
import { paginate } from './pagination';
import type { AdminDeps } from './deps';
import { serializeKey } from './serializers';
import { jsonBody, pathParam } from './validation';

/** DSN keys of a project (services/keys.ts holds the use cases). */

async function keyFor(em: EntityManager, req: Request, scope: Scope, options: LookupOptions = {}): Promise<{ project: Project; key: ProjectKey }> {
  const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), [scope], options);
  const keyId = pathParam(req, 'keyId');
  const key = PUBLIC_KEY_RE.test(keyId) ? await em.findOne(ProjectKey, { project, publicKey: keyId }) : null;
  if (!key) throw new NotFoundError('The requested resource does not exist');
  return { project, key };
}

export function registerKeyRoutes(api: Router, { authed, container }: AdminDeps): void {
  api.get('/projects/:org/:project/keys/', ...authed, async (req, res) => {
    const em = emOf(req);
    const project = await projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:read']);
    const status = req.query.status;
    const errors = createFieldErrors();
    if (status !== undefined && status !== 'active' && status !== 'inactive') errors.add('status', 'Must be "active" or "inactive".');
    errors.throwIfAny();
    const keyStatus: ProjectKeyStatus | undefined = status === 'active' || status === 'inactive' ? status : undefined;
    const where = { project, ...(keyStatus ? { status: keyStatus } : {}) };
    const keys = await paginate(req, res, (offset, limit) => em.find(ProjectKey, where, { orderBy: { id: 'asc' }, offset, limit }));
    res.json(keys.map((k) => serializeKey(req, k)));
  });

  api.post('/projects/:org/:project/keys/', ...authed, async (req, res) => {
    const key = await createKey(emOf(req), {
      actor: requestActor(req),
      target: (em) => projectFor(em, authOf(req), pathParam(req, 'org'), pathParam(req, 'project'), ['project:write'], { mustBeActive: true }),
      input: () => jsonBody(req),
    });
    res.status(201).json(serializeKey(req, key));
  });

  api.get('/projects/:org/:project/keys/:keyId/', ...authed, async (req, res) => {
    const { key } = await keyFor(emOf(req), req, 'project:read');
    res.json(serializeKey(req, key));
  });

  api.put('/projects/:org/:project/keys/:keyId/', ...authed, async (req, res) => {
    const key = await updateKey(emOf(req), {
      actor: requestActor(req),
      target: (em) => keyFor(em, req, 'project:write', { lock: true, mustBeActive: true }),
      input: () => jsonBody(req),
    });
    res.json(serializeKey(req, key));
  });

  api.delete('/projects/:org/:project/keys/:keyId/', ...authed, async (req, res) => {
    await deleteKey(emOf(req), { actor: requestActor(req), target: (em) => keyFor(em, req, 'project:admin') });
    res.status(204).end();
  });

  // `configs status` over HTTP: the same service function, for a key of this project.
  api.get('/projects/:org/:project/keys/:keyId/config-status/', ...authed, async (req, res) => {
    const { key } = await keyFor(emOf(req), req, 'project:read');
    res.json(await keyStatus(container, key.publicKey));
  });
}
