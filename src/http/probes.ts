import { Router } from 'express';
import type { Container } from '../container';

/** `GET /healthz` (the process is alive) and `GET /metrics` (Prometheus), on the API and on workers. */
export function probesRouter(container: Container): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(container.metrics.registry.contentType).send(await container.metrics.registry.metrics());
  });
  return router;
}
