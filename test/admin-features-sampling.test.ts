import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry } from '../src/db/entities';
import { startWorkers, type RunningWorkers } from '../src/jobs/worker-runtime';
import { cacheConfigs, cachedConfig, configOf, createOrgWithProject, eventually, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

/** featureOverrides, samplingMode, targetSampleRate, dynamicSamplingBiases and the new inbound filters (ADMIN_API.md). */

let container: Container;
let api: ApiClient;
let token: string;
let workers: RunningWorkers;

beforeAll(async () => {
  container = await testContainer({ INVALIDATION_DELAY_MS: '0' });
  ({ token } = await userWithToken(container));
  api = await startApi(container, token);
  workers = startWorkers(container);
});

afterAll(async () => {
  await workers.close();
  await api.close();
  await container.close();
});

describe('featureOverrides', () => {
  it('turns a flag off for one organization: its cached configs change after commit, another organization keeps it; audited', async () => {
    const a = await createOrgWithProject(api, token, 'feat-a');
    const b = await createOrgWithProject(api, token, 'feat-b');
    await cacheConfigs(container, [a.key.id, b.key.id]);
    expect((await cachedConfig(container, a.key.id)).config.features).toContain('organizations:session-replay');

    const res = await api.put('/api/0/organizations/feat-a/', { featureOverrides: { 'organizations:session-replay': false } });
    expect(res.status).toBe(200);
    expect(res.body.featureOverrides).toEqual({ 'organizations:session-replay': false });
    await eventually(async () => !(await cachedConfig(container, a.key.id))?.config.features.includes('organizations:session-replay'));
    expect((await cachedConfig(container, b.key.id)).config.features).toContain('organizations:session-replay');
    const audit = await container.orm.em.fork().find(AuditLogEntry, { organization: { slug: 'feat-a' }, event: 'org.edit' });
    expect(audit.at(-1)!.data).toEqual({ featureOverrides: 'to {"organizations:session-replay":false}' });
  });

  it('lets a project override its organization, and null removes the override', async () => {
    const p = await createOrgWithProject(api, token, 'feat-p');
    expect((await api.put('/api/0/projects/feat-p/web/', { featureOverrides: { 'organizations:profiling': false } })).status).toBe(200);
    expect((await configOf(container, p.key.id)).config.features).not.toContain('organizations:profiling');
    const cleared = await api.put('/api/0/projects/feat-p/web/', { featureOverrides: { 'organizations:profiling': null } });
    expect(cleared.body.featureOverrides).toEqual({});
    expect((await configOf(container, p.key.id)).config.features).toContain('organizations:profiling');
  });

  it('refuses unknown flags, organization-only flags on a project, non-boolean values and the raw option, naming the field', async () => {
    await createOrgWithProject(api, token, 'feat-bad');
    const unknown = await api.put('/api/0/organizations/feat-bad/', { featureOverrides: { 'organizations:nope': true } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ featureOverrides: ['Unknown feature flag "organizations:nope".'] });
    const orgOnly = await api.put('/api/0/projects/feat-bad/web/', { featureOverrides: { 'organizations:dynamic-sampling-custom': true } });
    expect(orgOnly.body).toEqual({ featureOverrides: ['The feature flag "organizations:dynamic-sampling-custom" can only be set for the organization.'] });
    expect((await api.put('/api/0/organizations/feat-bad/', { featureOverrides: { 'organizations:profiling': 'yes' } })).status).toBe(400);
    expect((await api.put('/api/0/organizations/feat-bad/', { featureOverrides: ['organizations:profiling'] })).status).toBe(400);
    const raw = await api.put('/api/0/organizations/feat-bad/', { options: { 'sentry:feature_overrides': { 'organizations:profiling': true } } });
    expect(raw.body).toEqual({ options: ['Set "sentry:feature_overrides" with the "featureOverrides" field.'] });
    const old = await api.put('/api/0/organizations/feat-bad/', { options: { 'sentry:features': ['organizations:profiling'] } });
    expect(old.status).toBe(400);
  });
});

describe('samplingMode, targetSampleRate, dynamicSamplingBiases', () => {
  it("need organizations:dynamic-sampling-custom, as in Sentry (400 naming the field)", async () => {
    await createOrgWithProject(api, token, 'ds-off');
    const res = await api.put('/api/0/organizations/ds-off/', { targetSampleRate: 0.5 });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ targetSampleRate: ['Setting "targetSampleRate" requires the feature flag "organizations:dynamic-sampling-custom".'] });
  });

  it("produce Sentry's rules: biases with reserved ids at the organization rate, uniform last; project mode; rate 1.0 leaves only the uniform rule", async () => {
    const { key } = await createOrgWithProject(api, token, 'ds-on');
    expect((await api.put('/api/0/organizations/ds-on/', { featureOverrides: { 'organizations:dynamic-sampling-custom': true } })).status).toBe(200);
    expect((await api.put('/api/0/organizations/ds-on/', { targetSampleRate: 0.2 })).status).toBe(200);
    let rules = (await configOf(container, key.id)).config.sampling.rules;
    expect(rules.map((r: { id: number }) => r.id)).toEqual([1002, 1005, 1001, 1000]);
    expect(rules.at(-1).samplingValue).toEqual({ type: 'sampleRate', value: 0.2 });

    expect((await api.put('/api/0/projects/ds-on/web/', { dynamicSamplingBiases: [{ id: 'boostReplayId', active: false }] })).status).toBe(200);
    expect((await api.put('/api/0/organizations/ds-on/', { samplingMode: 'project' })).status).toBe(200);
    expect((await api.put('/api/0/projects/ds-on/web/', { targetSampleRate: 0.5 })).status).toBe(200);
    rules = (await configOf(container, key.id)).config.sampling.rules;
    expect(rules.map((r: { id: number }) => r.id)).toEqual([1002, 1001, 1000]);
    expect(rules.at(-1).samplingValue.value).toBe(0.5);

    expect((await api.put('/api/0/projects/ds-on/web/', { targetSampleRate: 1 })).status).toBe(200);
    expect((await configOf(container, key.id)).config.sampling.rules.map((r: { id: number }) => r.id)).toEqual([1000]);
  });

  it('refuses bad values with field errors', async () => {
    await createOrgWithProject(api, token, 'ds-bad');
    await api.put('/api/0/organizations/ds-bad/', { featureOverrides: { 'organizations:dynamic-sampling-custom': true } });
    for (const [path, body, field] of [
      ['/api/0/organizations/ds-bad/', { targetSampleRate: 1.5 }, 'targetSampleRate'],
      ['/api/0/organizations/ds-bad/', { targetSampleRate: 'half' }, 'targetSampleRate'],
      ['/api/0/organizations/ds-bad/', { samplingMode: 'everything' }, 'samplingMode'],
      ['/api/0/projects/ds-bad/web/', { dynamicSamplingBiases: [{ id: 'boostEverything', active: true }] }, 'dynamicSamplingBiases'],
      ['/api/0/projects/ds-bad/web/', { dynamicSamplingBiases: [{ id: 'boostEnvironments' }] }, 'dynamicSamplingBiases'],
      ['/api/0/projects/ds-bad/web/', { dynamicSamplingBiases: 'all' }, 'dynamicSamplingBiases'],
    ] as const) {
      const res = await api.put(path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(res.body)).toEqual([field]);
    }
  });
});

describe('inbound filters', () => {
  it('know chunk-load-error and react-hydration-errors (on by default) and the health-check filter, and switching one changes the config', async () => {
    const { key } = await createOrgWithProject(api, token, 'filters-new');
    const list = await api.get('/api/0/projects/filters-new/web/filters/');
    const active = Object.fromEntries((list.body as { id: string; active: unknown }[]).map((f) => [f.id, f.active]));
    expect(active).toMatchObject({ 'chunk-load-error': true, 'react-hydration-errors': true, 'filtered-transaction': true, localhost: false });
    expect((await api.put('/api/0/projects/filters-new/web/filters/chunk-load-error/', { active: false })).body).toEqual({ id: 'chunk-load-error', active: false });
    const generic = (await configOf(container, key.id)).config.filterSettings.generic;
    expect(generic.filters.map((f: { id: string }) => f.id)).toEqual(['react-hydration-errors']);
  });
});
