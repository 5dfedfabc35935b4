import express, { type Express } from 'express';
import type { Container } from '../container';
import { ADMIN_BODY_LIMIT_BYTES, adminRouter } from '../admin/router';
import { setSystemUrlPrefix } from '../admin/urls';
import { BULL_BOARD_PATH, bullBoardRouter } from './bull-board';
import { errorHandler, notFoundHandler } from './error-handler';
import { probesRouter } from './probes';
import { refuseDeclaredOversize } from './raw-body';
import { requestMetrics } from './request-metrics';
import { projectConfigsRoute, relaysRouter } from './routes/relays';

/**
 * The Express app of the API. Never listens: the entry point and the tests both call this and
 * decide what to do with it.
 */
export function createApp(container: Container): Express {
  const app = express();
  // Express's default ETag hashes every body (costly on the config hot path); Relay never revalidates.
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.set('trust proxy', container.settings.trustProxy);
  setSystemUrlPrefix(app, container.settings.systemUrlPrefix);

  app.use(requestMetrics(container.metrics));

  // The hot path first, before any other route is considered.
  app.post('/api/0/relays/projectconfigs/', ...projectConfigsRoute(container));

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
  app.use(adminRouter(container));

  app.use(notFoundHandler);
  app.use(errorHandler(container.logger));
  return app;
}
