import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../src/metrics';
import { cleanUpPrefix, isolatedEnv, testSettings } from './support/harness';
import { ROOT, startRole, type RoleProcess } from './support/processes';
import { parsePromql } from './support/promql';

/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ query only what the service
 * exports: every series name (with its histogram suffix) is on the /metrics of the API or of a
 * worker, started as the separate processes compose runs, and every label a query names is one
 * those metrics carry.
 */

const DASHBOARD = path.join(ROOT, 'deploy/grafana/dashboards/relay-config-server.json');
const ALERTS = path.join(ROOT, 'deploy/prometheus/alerts.yml');
/** Series Prometheus makes itself for every target, and the labels it adds to every series. */
const PROMETHEUS_OWN: Record<string, string[]> = { up: [] };
const TARGET_LABELS = ['job', 'instance'];

interface Query {
  where: string;
  expr: string;
}

function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  interface Panel {
    title?: string;
    panels?: Panel[];
    targets?: { expr?: string; refId?: string }[];
  }
  const out: Query[] = [];
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) if (target.expr) out.push({ where: `dashboard panel "${panel.title}" ${target.refId}`, expr: target.expr });
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return out;
}

function alertQueries(): Query[] {
  const rules = parseYaml(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert ?? r.record}`, expr: String(r.expr) })));
}

/** Series names a /metrics text exports: from its TYPE lines, so metrics without samples yet count too. */
function exportedSeries(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

/** The label names each series of our registry carries (the same createMetrics every role runs). */
function seriesLabels(): Map<string, string[]> {
  const metrics = createMetrics('check');
  const labels = new Map<string, string[]>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, labelNames, constructor } = metric as unknown as { name: string; labelNames: string[]; constructor: { name: string } };
    const own = [...labelNames, 'role', ...TARGET_LABELS];
    labels.set(name, own);
    if (constructor.name === 'Histogram') {
      labels.set(`${name}_bucket`, [...own, 'le']);
      labels.set(`${name}_sum`, own);
      labels.set(`${name}_count`, own);
    }
    if (constructor.name === 'Summary') {
      labels.set(name, [...own, 'quantile']);
      labels.set(`${name}_sum`, own);
      labels.set(`${name}_count`, own);
    }
  }
  for (const [name, own] of Object.entries(PROMETHEUS_OWN)) labels.set(name, [...own, ...TARGET_LABELS]);
  return labels;
}

describe('the PromQL reader', () => {
  it('finds series names under functions, aggregations, ranges and binary operators', () => {
    expect(parsePromql('histogram_quantile(0.95, sum by (le, queue) (rate(relay_x_seconds_bucket{queue="build"}[$__rate_interval])))')).toEqual({
      selectors: [{ name: 'relay_x_seconds_bucket', labels: ['queue'] }],
      groupingLabels: ['le', 'queue'],
    });
    expect(parsePromql('sum(rate(a_total{result=~"cached|unchanged"}[5m])) / sum without (role) (rate(b_total[5m] offset 1h)) > 0.5').selectors.map((s) => s.name)).toEqual(['a_total', 'b_total']);
    expect(parsePromql('sum(up{job="worker"}) == 0 or absent(up{job="worker"})').selectors).toEqual([
      { name: 'up', labels: ['job'] },
      { name: 'up', labels: ['job'] },
    ]);
    expect(parsePromql('max by (queue) (deriv(q{state="waiting"}[10m])) > 0 and max(q) > 1e3').selectors.map((s) => s.name)).toEqual(['q', 'q']);
    expect(parsePromql('max_over_time(g[10m:1m]) * on (instance) group_left (version) info').groupingLabels).toEqual(['instance', 'version']);
    // A name inside a label value is not a series.
    expect(parsePromql('sum(http_requests_total{route="/api/0/relays/projectconfigs/", status!="200"})').selectors).toEqual([{ name: 'http_requests_total', labels: ['route', 'status'] }]);
  });

  it('rejects a misspelt function and malformed matchers', () => {
    expect(() => parsePromql('sum(rat(x[5m]))')).toThrow(/unknown function "rat"/);
    expect(() => parsePromql('x{queue=build}')).toThrow(/label value/);
    expect(() => parsePromql('x{queue="build"')).toThrow();
  });
});

describe('dashboard and alert rules query what the API and the workers export', () => {
  let env: Record<string, string>;
  let api: RoleProcess | undefined;
  let worker: RoleProcess | undefined;
  let exported: Set<string>;
  const queries = [...dashboardQueries(), ...alertQueries()];

  beforeAll(async () => {
    env = { ...(await isolatedEnv()), REDIS_URL: testSettings().redisUrl };
    api = await startRole('api', env);
    worker = await startRole('worker', env);
    const texts = await Promise.all([api, worker].map(async (role) => (await fetch(`${role.url}/metrics`)).text()));
    exported = new Set(texts.flatMap((text) => [...exportedSeries(text)]));
  }, 180_000);

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    if (env) await cleanUpPrefix(env.REDIS_KEY_PREFIX);
  });

  it('reads the dashboard panels and the alert rules the issue asks for', () => {
    const text = queries.map((q) => q.expr).join('\n');
    for (const name of ['relay_projectconfig_keys_total', 'relay_projectconfig_pending_seconds_bucket', 'relay_queue_jobs', 'relay_outbox_oldest_age_seconds', 'relay_projectconfig_stale_writes_refused_total', 'http_requests_total', 'relay_projectconfig_job_duration_seconds_bucket', 'relay_projectconfig_job_keys_count', 'relay_projectconfig_invalidations_total']) {
      expect(text).toContain(name);
    }
    expect(alertQueries().map((q) => q.where)).toEqual(expect.arrayContaining(['alert RelayConfigKeysPendingTooLong', 'alert RelayConfigBuildP95NearDeadline', 'alert RelayConfigOutboxStale', 'alert RelayConfig503Rate', 'alert RelayConfigQueueGrowing', 'alert RelayConfigNoWorkerUp']));
  });

  it('every series a query selects is exported by the API or a worker (or is Prometheus’s own `up`)', () => {
    expect(exported.has('relay_projectconfig_keys_total')).toBe(true);
    const missing: string[] = [];
    for (const { where, expr } of queries) {
      const { selectors } = parsePromql(expr);
      expect(selectors.length, `${where} selects no series`).toBeGreaterThan(0);
      for (const { name } of selectors) if (!exported.has(name) && !(name in PROMETHEUS_OWN)) missing.push(`${where}: ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it('every label a query matches or groups by is one of the metrics it selects', () => {
    const labels = seriesLabels();
    const unknown: string[] = [];
    for (const { where, expr } of queries) {
      const { selectors, groupingLabels } = parsePromql(expr);
      const available = new Set<string>();
      for (const { name, labels: used } of selectors) {
        const own = labels.get(name) ?? [];
        own.forEach((l) => available.add(l));
        for (const label of used) if (!own.includes(label)) unknown.push(`${where}: ${name}{${label}}`);
      }
      for (const label of groupingLabels) if (!available.has(label)) unknown.push(`${where}: by/on (${label})`);
    }
    expect(unknown).toEqual([]);
  });
});
