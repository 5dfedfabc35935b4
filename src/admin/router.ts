import express, { Router } from 'express';
import type { Container } from '../container';
import { apiAuth, requestEntityManager } from './auth';
import type { AdminDeps } from './deps';
import { serveAvatar } from './avatar';
import { registerFilterRoutes } from './filters.routes';
import { registerIndexRoutes } from './index.routes';
import { registerKeyRoutes } from './keys.routes';
import { registerOrganizationRoutes } from './organizations.routes';
import { registerProjectRoutes } from './projects.routes';
import { registerTeamRoutes } from './teams.routes';
import { registerTemplateRoutes } from './templates.routes';
import { ADMIN_BODY_LIMIT_BYTES } from './limits';
import { AVATAR_PATH } from './urls';


/**
 * The management API under `/api/0/` (ADMIN_API.md) and the public avatar URLs. Authentication is
 * attached per route, not to the whole prefix, so a path no route takes (e.g. an unknown relay
 * endpoint) still gets its plain 404.
 */
export function adminRouter(container: Container): Router {
  const fork = () => container.orm.em.fork();
  const deps: AdminDeps = {
    container,
    // Token first: an unauthenticated request gets its 401 without its body being read.
    authed: [requestEntityManager(fork), apiAuth, express.json({ limit: ADMIN_BODY_LIMIT_BYTES })],
  };
  const api = Router();
  registerIndexRoutes(api, deps);
  registerOrganizationRoutes(api, deps);
  registerTeamRoutes(api, deps);
  registerProjectRoutes(api, deps);
  registerKeyRoutes(api, deps);
  registerFilterRoutes(api, deps);
  registerTemplateRoutes(api, deps);

  const router = Router();
  router.get(`${AVATAR_PATH}/:uuid/`, serveAvatar(fork));
  router.use('/api/0', api);
  return router;
}
