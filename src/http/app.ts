import type { IncomingMessage, RequestListener } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import proxyaddr from 'proxy-addr';
import type { Container } from '../container';
import { ADMIN_BODY_LIMIT_BYTES } from '../admin/limits';
import { AVATAR_PATH, setSystemUrlPrefix } from '../admin/urls';
import { BULL_BOARD_PATH, bullBoardRouter } from './bull-board';
import { errorHandler, notFoundHandler } from './error-handler';
import { probesRouter } from './probes';
import { refuseDeclaredOversize } from './raw-body';
import { requestMetrics } from './request-metrics';
import { projectConfigsRoute, RAW_BODY_LIMIT, relayAuthDeps, relaysRouter } from './routes/relays';
import { configPollLane } from './config-poll-lane';
import { relayAuthenticator } from '../relay-auth/middleware';
import { createProjectConfigService } from '../services/project-configs';

/**
 * The request listener of the API: Relay's steady-state config poll in its own lane
 * (config-poll-lane.ts), everything else in the Express app. Never listens: the entry point and
 * the tests both call this and decide what to do with it.
 */
export function createApp(container: Container, options: { configPollLane?: boolean } = {}): RequestListener {
  const { settings, metrics, logger, orm, configCache, queues } = container;
  // One service (and so one reply budget) and one signature check for both ways to the endpoint.
  const lanes = {
    service: createProjectConfigService({ settings, metrics, logger, orm, configCache, buildQueue: queues.build }),
    authenticate: relayAuthenticator(relayAuthDeps(container)),
  };
  const app = expressApp(container, lanes);
  if (options.configPollLane === false) return app; // for tests: the Express route alone
  const trust = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
  const clientIp = (req: IncomingMessage) => proxyaddr(req, trust);
  return configPollLane({ ...lanes, relayActivity: container.relayActivity, metrics, logger, bodyLimit: RAW_BODY_LIMIT, clientIp }, app);
}

function expressApp(container: Container, lanes: Parameters<typeof projectConfigsRoute>[1]): Express {
  const app = express();
  // Express's default ETag hashes every body (costly on the config hot path); Relay never revalidates.
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.set('trust proxy', container.settings.trustProxy);
  setSystemUrlPrefix(app, container.settings.systemUrlPrefix);

  app.use(requestMetrics(container.metrics));

  // The hot path first, before any other route is considered.
  app.post('/api/0/relays/projectconfigs/', ...projectConfigsRoute(container, lanes));

  // No route reads more than the management API does; a larger declared body is refused at once.
  app.use(refuseDeclaredOversize(ADMIN_BODY_LIMIT_BYTES));

  app.get('/readyz', async (_req, res) => {
    const checks = await container.readiness();
    const ready = checks.postgres && checks.redis;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });

  app.use(probesRouter(container));

  app.use('/api/0/relays', relaysRouter(container));
  app.use(BULL_BOARD_PATH, bullBoardRouter(container));
  app.use(lazyAdminRouter(container));

  app.use(notFoundHandler);
  app.use(errorHandler(container.logger));
  return app;
}

/**
 * The management API (`/api/0/…` past the Relay endpoints, and avatars), loaded on its first
 * request: a Relay-facing API process may never serve it, and its routes, schemas and services
 * would otherwise sit in its heap from the start. Other paths pass straight on to the 404.
 */
function lazyAdminRouter(container: Container): RequestHandler {
  let router: Promise<RequestHandler> | null = null;
  return (req, res, next) => {
    if (!req.path.startsWith('/api/0/') && !req.path.startsWith(`${AVATAR_PATH}/`)) {
      next();
      return;
    }
    router ??= import('../admin/router.js').then(
      ({ adminRouter }) => adminRouter(container),
      (error: unknown) => {
        router = null; // the next request tries again
        throw error;
      },
    );
    router.then((handler) => handler(req, res, next), next);
  };
}
