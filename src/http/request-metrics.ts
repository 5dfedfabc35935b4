import type { RequestHandler } from 'express';
import type { Metrics } from '../metrics';

/**
 * Counts every request by route pattern (never the raw path, whose keys and ids would make the
 * label set unbounded), method and status, and times it until the response is finished.
 */
export function requestMetrics(metrics: Pick<Metrics, 'httpRequests' | 'httpRequestDuration'>): RequestHandler {
  return (req, res, next) => {
    const startedAt = process.hrtime.bigint();
    res.once('finish', () => {
      const pattern = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : req.baseUrl.startsWith('/admin/queues') ? '/admin/queues' : 'unmatched';
      const labels = { route, method: req.method, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      metrics.httpRequestDuration.observe(labels, Number(process.hrtime.bigint() - startedAt) / 1e9);
    });
    next();
  };
}
