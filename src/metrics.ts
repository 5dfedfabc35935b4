import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics of one process (DESIGN.md, "Observability"), on their own registry. */
export interface Metrics {
  registry: Registry;
  /** v3 keys answered from the cache, listed as pending, answered `unchanged`, computed (noCache), or failed to compute (noCache). */
  projectConfigKeys: Counter<'result'>;
  /** v3 polls of `?version=3` with a declared body: answered in the config poll lane, or handed to Express. */
  configPollLane: Counter<'outcome'>;
  /** Keys another request had already claimed (a build was in flight). */
  buildClaimConflicts: Counter;
  /** Build jobs enqueued by the API. */
  buildJobsScheduled: Counter;
  /** Configs computed, by trigger (build job, invalidation, sync request); one per key. */
  projectConfigBuilds: Counter<'trigger'>;
  /** Keys whose config could not be computed, by reason and trigger; each is that key's failure alone. */
  projectConfigBuildFailures: Counter<'reason' | 'trigger'>;
  buildJobDuration: Histogram<'queue'>;
  /**
   * Per key a build job wrote: seconds since its build was scheduled (the request took the key's
   * claim and enqueued the job in the same step), i.e. how long Relay saw it `pending`.
   */
  projectConfigPending: Histogram;
  buildJobKeys: Histogram;
  buildJobQueries: Histogram;
  buildJobsFailed: Counter;
  invalidationsScheduled: Counter<'scope'>;
  invalidationsProcessed: Counter<'scope'>;
  staleWritesRefused: Counter;
  queueDepth: Gauge<'queue' | 'state'>;
  /** Rows waiting in the outbox, and the age of the oldest, read from the table at scrape time. */
  outboxRows: Gauge;
  outboxOldestAge: Gauge;
  /** Outbox rows published (and deleted), by kind. */
  outboxPublished: Counter<'kind'>;
  /** Where the outbox gauges read their figures (set by processes with a database). */
  outboxSource: (() => Promise<{ depth: number; oldestAgeS: number }>) | null;
  /** 401/403 (and registration 400) refusals on the Relay endpoints, by reason (relay-auth/refusals.ts). */
  relayAuthRefusals: Counter<'reason' | 'endpoint'>;
  /** HTTP requests by route pattern (never the raw path), method and status. */
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpRequestDuration: Histogram<'route' | 'method' | 'status'>;
  /** Where `queueDepth` reads its figures at scrape time (set by processes that own queues). */
  queueDepthSource: (() => Promise<Record<string, Record<string, number>>>) | null;
}

export function createMetrics(role: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const keysPerJob = [1, 5, 10, 50, 100, 250, 500];
  const metrics: Metrics = {
    registry,
    projectConfigKeys: new Counter({ name: 'relay_projectconfig_keys_total', help: 'v3 keys answered, by result (cached, pending, unchanged; held_back: cached but listed as pending because the reply budget was spent; computed or failed for noCache)', labelNames: ['result'], registers }),
    configPollLane: new Counter({
      name: 'relay_projectconfig_poll_lane_total',
      help: "Relay's steady-state v3 polls answered outside Express (answered), or handed to the Express route (handed_over: another shape, a refusal, a restricted relay, Redis unavailable)",
      labelNames: ['outcome'],
      registers,
    }),
    buildClaimConflicts: new Counter({ name: 'relay_projectconfig_claim_conflicts_total', help: 'Missing keys another request had already claimed for a build', registers }),
    buildJobsScheduled: new Counter({ name: 'relay_projectconfig_build_jobs_scheduled_total', help: 'Build jobs enqueued', registers }),
    projectConfigBuilds: new Counter({ name: 'relay_projectconfig_builds_total', help: 'Project configs computed (one per key), by trigger', labelNames: ['trigger'], registers }),
    projectConfigBuildFailures: new Counter({
      name: 'relay_projectconfig_build_failures_total',
      help: 'Keys whose config could not be computed (the other keys of the batch are served), by reason and trigger',
      labelNames: ['reason', 'trigger'],
      registers,
    }),
    buildJobDuration: new Histogram({ name: 'relay_projectconfig_job_duration_seconds', help: 'Duration of build and invalidation jobs', labelNames: ['queue'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    projectConfigPending: new Histogram({
      name: 'relay_projectconfig_pending_seconds',
      help: 'Seconds from a key being claimed and its build job enqueued to its config written, per key a build job wrote (Relay drops a project pending for 30 s)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60],
      registers,
    }),
    buildJobKeys: new Histogram({ name: 'relay_projectconfig_job_keys', help: 'Keys per build job', buckets: keysPerJob, registers }),
    buildJobQueries: new Histogram({ name: 'relay_projectconfig_job_sql_queries', help: 'SQL statements per build job', buckets: [1, 2, 3, 4, 5, 6, 8, 10, 20, 50], registers }),
    buildJobsFailed: new Counter({ name: 'relay_projectconfig_job_failures_total', help: 'Build job attempts that failed', registers }),
    invalidationsScheduled: new Counter({ name: 'relay_projectconfig_invalidations_scheduled_total', help: 'Invalidations scheduled after commit, by scope', labelNames: ['scope'], registers }),
    invalidationsProcessed: new Counter({ name: 'relay_projectconfig_invalidations_total', help: 'Invalidations processed, by scope', labelNames: ['scope'], registers }),
    staleWritesRefused: new Counter({ name: 'relay_projectconfig_stale_writes_refused_total', help: 'Config writes refused because the data changed after they were read', registers }),
    queueDepth: new Gauge({
      name: 'relay_queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        const depth = await metrics.queueDepthSource?.().catch(() => null);
        for (const [queue, states] of Object.entries(depth ?? {})) for (const [state, count] of Object.entries(states)) this.set({ queue, state }, count);
      },
    }),
    queueDepthSource: null,
    outboxRows: new Gauge({
      name: 'relay_outbox_rows',
      help: 'Committed changes waiting in the outbox to be published to Redis',
      registers,
      async collect() {
        const stats = await metrics.outboxSource?.().catch(() => null);
        if (stats) this.set(stats.depth);
      },
    }),
    outboxOldestAge: new Gauge({
      name: 'relay_outbox_oldest_age_seconds',
      help: 'Age of the oldest row in the outbox (0 when empty)',
      registers,
      async collect() {
        const stats = await metrics.outboxSource?.().catch(() => null);
        if (stats) this.set(stats.oldestAgeS);
      },
    }),
    outboxPublished: new Counter({ name: 'relay_outbox_published_total', help: 'Outbox rows published and removed, by kind', labelNames: ['kind'], registers }),
    outboxSource: null,
    relayAuthRefusals: new Counter({ name: 'relay_auth_refusals_total', help: 'Relay endpoint refusals (401/403, registration 400), by reason and endpoint', labelNames: ['reason', 'endpoint'], registers }),
    httpRequests: new Counter({ name: 'http_requests_total', help: 'HTTP requests, by route pattern, method and status', labelNames: ['route', 'method', 'status'], registers }),
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration until the response is finished, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
  return metrics;
}
