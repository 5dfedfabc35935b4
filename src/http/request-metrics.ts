import type { RequestHandler } from 'express';
import type { Metrics } from '../metrics';
import { handedOverAt } from './raw-body';

/**
 * Counts every request by route pattern (never the raw path, whose keys and ids would make the
 * label set unbounded), method and status, and times it until the response is finished.
 */
export function requestMetrics(metrics: RequestMetricsDeps): RequestHandler {
  return (req, res, next) => {
    // A poll the config poll lane handed over arrived when the lane began reading it.
    const startedAt = handedOverAt(req) ?? process.hrtime.bigint();
    res.once('finish', () => {
      const pattern = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : req.baseUrl.startsWith('/admin/queues') ? '/admin/queues' : 'unmatched';
      recordRequest(metrics, route, req.method, res.statusCode, startedAt);
    });
    next();
  };
}

type RequestMetricsDeps = Pick<Metrics, 'httpRequests' | 'httpRequestDuration'>;

/** Counts and times one finished request (for a route served outside Express too). */
export function recordRequest(metrics: RequestMetricsDeps, route: string, method: string, status: number, startedAt: bigint): void {
  const labels = { route, method, status: String(status) };
  metrics.httpRequests.inc(labels);
  metrics.httpRequestDuration.observe(labels, Number(process.hrtime.bigint() - startedAt) / 1e9);
}
