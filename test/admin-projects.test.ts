import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry, Project, ProjectKey, ProjectOption } from '../src/db/entities';
import { startWorkers, type RunningWorkers } from '../src/jobs/worker-runtime';
import { cacheConfigs, cachedConfig, configOf, createOrgWithProject, eventually, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

let container: Container;
let api: ApiClient;
let token: string;

beforeAll(async () => {
  container = await testContainer({ INVALIDATION_DELAY_MS: '0' });
  ({ token } = await userWithToken(container));
  api = await startApi(container, token);
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const em = () => container.orm.em.fork();

async function projectOptions(org: string, project: string): Promise<Record<string, unknown>> {
  const rows = await em().find(ProjectOption, { project: { slug: project, organization: { slug: org } } });
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

const auditOf = (org: string, event: string) => em().find(AuditLogEntry, { organization: { slug: org }, event }, { orderBy: { id: 'asc' } });

describe('POST /api/0/teams/{org}/{team}/projects/', () => {
  it('creates the project (201) with one active key, and audits both', async () => {
    expect((await api.post('/api/0/organizations/', { name: 'Create', slug: 'create' })).status).toBe(201);
    expect((await api.post('/api/0/organizations/create/teams/', { name: 'Mobile', slug: 'mobile' })).status).toBe(201);
    const res = await api.post('/api/0/teams/create/mobile/projects/', { name: 'iOS App', platform: 'apple-ios' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      slug: 'ios-app',
      name: 'iOS App',
      platform: 'apple-ios',
      status: 'active',
      team: { slug: 'mobile', name: 'Mobile' },
      organization: { slug: 'create' },
      templateId: null,
      allowedDomains: ['*'],
      dataScrubber: true,
    });
    const keys = await em().find(ProjectKey, { project: Number(res.body.id) });
    expect(keys.map((k) => [k.status, k.label])).toEqual([['active', 'Default']]);
    expect((await configOf(container, keys[0].publicKey)).disabled).toBe(false);
    expect((await auditOf('create', 'project.add'))[0].data).toEqual({ slug: 'ios-app', name: 'iOS App', team: 'mobile' });
    expect(await auditOf('create', 'projectkey.add')).toHaveLength(1);
  });

  it('answers 409 for a taken slug, 404 for an unknown team, 400 for bad input', async () => {
    const dup = await api.post('/api/0/teams/create/mobile/projects/', { name: 'Again', slug: 'ios-app' });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ detail: 'A project with this slug already exists.' });
    expect((await api.post('/api/0/teams/create/nope/projects/', { name: 'x' })).status).toBe(404);
    expect((await api.post('/api/0/teams/create/mobile/projects/', {})).body).toEqual({ name: ['This field is required.'] });
    expect((await api.post('/api/0/teams/create/mobile/projects/', { name: 'P', platform: 'Java Script' })).body).toEqual({
      platform: ['Invalid platform: use lower-case letters, digits, ".", "_" and "-", e.g. "javascript-react".'],
    });
    expect((await api.post('/api/0/teams/create/mobile/projects/', { name: 'P', teamId: 1 })).body).toEqual({ teamId: ['Unknown field.'] });
  });
});

describe('project settings', () => {
  it('maps every setting to its project option, validates each, and puts them into the config', async () => {
    const { key } = await createOrgWithProject(api, token, 'opts');
    const res = await api.put('/api/0/projects/opts/web/', {
      dataScrubber: false,
      dataScrubberDefaults: false,
      scrubIPAddresses: true,
      sensitiveFields: ['Card'],
      safeFields: ['traceId'],
      relayPiiConfig: JSON.stringify({ applications: { $string: ['@email:mask'] } }),
      allowedDomains: ['https://app.example.com', ' *.example.org ', ''],
      options: { 'sentry:blacklisted_ips': ['10.0.0.0/8'], 'filters:localhost': '1' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dataScrubber: false, scrubIPAddresses: true, allowedDomains: ['https://app.example.com', '*.example.org'], options: { 'filters:localhost': '1', 'sentry:blacklisted_ips': ['10.0.0.0/8'] } });
    expect(await projectOptions('opts', 'web')).toEqual({
      'sentry:scrub_data': false,
      'sentry:scrub_defaults': false,
      'sentry:scrub_ip_address': true,
      'sentry:sensitive_fields': ['card'],
      'sentry:safe_fields': ['traceid'],
      'sentry:relay_pii_config': '{"applications":{"$string":["@email:mask"]}}',
      'sentry:origins': ['https://app.example.com', '*.example.org'],
      'sentry:blacklisted_ips': ['10.0.0.0/8'],
      'filters:localhost': '1',
    });
    const config = (await configOf(container, key.id)).config;
    expect(config.allowedDomains).toEqual(['https://app.example.com', '*.example.org']);
    expect(config.filterSettings).toMatchObject({ localhost: { isEnabled: true }, clientIps: { blacklistedIps: ['10.0.0.0/8'] } });
    // A false scrubData is left out, as Relay's serializer writes it.
    expect(config.datascrubbingSettings).toMatchObject({ scrubIpAddresses: true, sensitiveFields: ['card'] });
    expect(config.datascrubbingSettings).not.toHaveProperty('scrubData');
    const [edit] = await auditOf('opts', 'project.edit');
    expect(edit.data).toMatchObject({ project: 'web', allowedDomains: 'to ["https://app.example.com","*.example.org"]', scrubIPAddresses: 'to true' });

    const bad = await api.put('/api/0/projects/opts/web/', {
      allowedDomains: ['http://example.com:8080', 'ok.example.com'],
      dataScrubber: 1,
      options: { 'sentry:blacklisted_ips': ['not-an-ip'], 'sentry:origins': ['*'], 'sentry:trusted-relays': [] },
      trustedRelays: [],
      templateId: 'abc',
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      trustedRelays: [expect.stringContaining('Unknown field.')],
      templateId: ['Must be a valid id.'],
      allowedDomains: ['http://example.com:8080 is not an acceptable domain'],
      dataScrubber: ['Invalid value for "sentry:scrub_data": Invalid input: expected boolean, received number'],
      options: [
        'Invalid value for "sentry:blacklisted_ips" at 0: must be an IP address or CIDR',
        'Set "sentry:origins" with the "allowedDomains" field.',
        'Option "sentry:trusted-relays" cannot be set on a project',
      ],
    });
  });

  it('renames, changes slug and platform, refuses a slug in use, and audits the changes', async () => {
    const { key } = await createOrgWithProject(api, token, 'names');
    await api.post('/api/0/teams/names/backend/projects/', { name: 'Other', slug: 'other' });
    expect((await api.put('/api/0/projects/names/web/', { slug: 'other' })).body).toEqual({ slug: ['The slug "other" is already in use.'] });
    const res = await api.put('/api/0/projects/names/web/', { name: 'Website', slug: 'website', platform: null });
    expect(res.body).toMatchObject({ name: 'Website', slug: 'website', platform: null });
    expect((await api.get('/api/0/projects/names/web/')).status).toBe(404);
    expect((await configOf(container, key.id)).slug).toBe('website');
    expect((await auditOf('names', 'project.edit'))[0].data).toEqual({ project: 'website', name: 'from Web to Website', slug: 'from web to website', platform: 'from javascript to null' });
    // An unchanged PUT records nothing.
    await api.put('/api/0/projects/names/website/', { name: 'Website' });
    expect(await auditOf('names', 'project.edit')).toHaveLength(1);
  });

  it('invalidates the cached configs after the change commits (workers recompute them)', async () => {
    const workers: RunningWorkers = startWorkers(container);
    try {
      const { key } = await createOrgWithProject(api, token, 'live');
      await cacheConfigs(container, [key.id]);
      expect((await cachedConfig(container, key.id)).config.allowedDomains).toEqual(['*']);
      await api.put('/api/0/projects/live/web/', { allowedDomains: ['live.example.com'] });
      await eventually(async () => (await cachedConfig(container, key.id)).config.allowedDomains[0] === 'live.example.com');
      await api.put('/api/0/organizations/live/', { sensitiveFields: ['org-secret'] });
      await eventually(async () => (await cachedConfig(container, key.id)).config.datascrubbingSettings.sensitiveFields.includes('org-secret'));
    } finally {
      await workers.close();
    }
  });
});

describe('project list, read and deletion', () => {
  it('lists active projects with id, slug, name and team; deletion (204) disables cached configs and hides the project', async () => {
    const { key } = await createOrgWithProject(api, token, 'gone');
    await api.post('/api/0/teams/gone/backend/projects/', { name: 'Stays', slug: 'stays' });
    const list = await api.get('/api/0/organizations/gone/projects/');
    expect(list.body.map((p: { slug: string; team: { slug: string } }) => [p.slug, p.team.slug])).toEqual([
      ['stays', 'backend'],
      ['web', 'backend'],
    ]);
    expect(list.body[0].id).toMatch(/^\d+$/);

    await cacheConfigs(container, [key.id]);
    const res = await api.delete('/api/0/projects/gone/web/');
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expect(await cachedConfig(container, key.id)).toEqual({ disabled: true });
    expect(await configOf(container, key.id)).toEqual({ disabled: true });
    expect((await em().findOneOrFail(Project, { slug: 'web', organization: { slug: 'gone' } })).status).toBe('pending_deletion');
    expect((await api.get('/api/0/projects/gone/web/')).status).toBe(404);
    expect((await api.get('/api/0/organizations/gone/projects/')).body.map((p: { slug: string }) => p.slug)).toEqual(['stays']);
    expect((await api.delete('/api/0/projects/gone/web/')).status).toBe(404);
    expect((await auditOf('gone', 'project.remove'))[0].data).toEqual({ slug: 'web', name: 'Web' });
  });
});

describe('inbound filters', () => {
  it('turns filters on and off, takes legacy-browser subfilters, and feeds filterSettings', async () => {
    const { key } = await createOrgWithProject(api, token, 'filters');
    expect((await api.get('/api/0/projects/filters/web/filters/localhost/')).body).toEqual({ id: 'localhost', active: false });
    for (const id of ['browser-extensions', 'localhost', 'web-crawlers', 'filtered-transaction']) {
      const res = await api.put(`/api/0/projects/filters/web/filters/${id}/`, { active: true });
      expect(res.body, id).toEqual({ id, active: true });
    }
    const legacy = await api.put('/api/0/projects/filters/web/filters/legacy-browsers/', { subfilters: ['ie9', 'ie10', 'ie9'] });
    expect(legacy.body).toEqual({ id: 'legacy-browsers', active: ['ie9', 'ie10'], subfilters: ['ie9', 'ie10'] });
    let settings = (await configOf(container, key.id)).config.filterSettings;
    expect(settings).toMatchObject({
      browserExtensions: { isEnabled: true },
      localhost: { isEnabled: true },
      webCrawlers: { isEnabled: true },
      ignoreTransactions: { isEnabled: true },
      legacyBrowsers: { isEnabled: true, options: ['ie9', 'ie10'] },
    });
    const off = await api.put('/api/0/projects/filters/web/filters/legacy-browsers/', { subfilters: [] });
    expect(off.body).toEqual({ id: 'legacy-browsers', active: false, subfilters: [] });
    await api.put('/api/0/projects/filters/web/filters/localhost/', { active: false });
    settings = (await configOf(container, key.id)).config.filterSettings;
    expect(settings.legacyBrowsers).toBeUndefined();
    expect(settings.localhost).toBeUndefined();
    expect((await auditOf('filters', 'project.edit')).map((e) => Object.keys(e.data)[1])).toEqual([
      'filters:browser-extensions',
      'filters:localhost',
      'filters:web-crawlers',
      'filters:filtered-transaction',
      'filters:legacy-browsers',
      'filters:legacy-browsers',
      'filters:localhost',
    ]);
    const list = await api.get('/api/0/projects/filters/web/filters/');
    expect(list.body.map((f: { id: string }) => f.id)).toEqual(['browser-extensions', 'localhost', 'web-crawlers', 'filtered-transaction', 'chunk-load-error', 'react-hydration-errors', 'legacy-browsers']);
  });

  it('answers 404 for an unknown filter and 400 for bad bodies', async () => {
    await createOrgWithProject(api, token, 'filters-bad');
    const base = '/api/0/projects/filters-bad/web/filters';
    expect((await api.get(`${base}/nope/`)).status).toBe(404);
    expect((await api.put(`${base}/nope/`, { active: true })).status).toBe(404);
    expect((await api.put(`${base}/localhost/`, {})).body).toEqual({ active: ['This field is required.'] });
    expect((await api.put(`${base}/localhost/`, { active: 'yes' })).body).toEqual({ active: ['Must be a boolean.'] });
    expect((await api.put(`${base}/localhost/`, { active: true, subfilters: [] })).body).toEqual({ subfilters: ['Unknown field.'] });
    expect((await api.put(`${base}/legacy-browsers/`, { subfilters: ['netscape'] })).body.subfilters[0]).toContain('Unknown subfilter');
    expect((await api.put(`${base}/legacy-browsers/`, {})).body).toEqual({ non_field_errors: ['Send either "active" or "subfilters".'] });
  });
});

describe('project templates', () => {
  it('creates, reads, updates and deletes templates; projects fall back to their template', async () => {
    const { key } = await createOrgWithProject(api, token, 'tpl');
    const created = await api.post('/api/0/organizations/tpl/project-templates/', { name: 'Web defaults', options: { 'sentry:origins': ['tpl.example.com'], 'filters:web-crawlers': '1' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Web defaults', options: { 'filters:web-crawlers': '1', 'sentry:origins': ['tpl.example.com'] } });
    const id = created.body.id;
    expect((await api.post('/api/0/organizations/tpl/project-templates/', { name: 'Web defaults' })).status).toBe(409);
    expect((await api.get(`/api/0/organizations/tpl/project-templates/${id}/`)).body).toEqual(created.body);
    expect((await api.get('/api/0/organizations/tpl/project-templates/')).body).toHaveLength(1);

    // A project using it sees its values where it has none of its own.
    const linked = await api.put('/api/0/projects/tpl/web/', { templateId: id });
    expect(linked.body).toMatchObject({ templateId: id, allowedDomains: ['tpl.example.com'] });
    expect((await configOf(container, key.id)).config.allowedDomains).toEqual(['tpl.example.com']);

    const updated = await api.put(`/api/0/organizations/tpl/project-templates/${id}/`, { name: 'Web', options: { 'sentry:origins': ['new.example.com'], 'filters:web-crawlers': null } });
    expect(updated.body).toMatchObject({ name: 'Web', options: { 'sentry:origins': ['new.example.com'] } });
    expect(updated.body.options).not.toHaveProperty('filters:web-crawlers');
    expect((await configOf(container, key.id)).config.allowedDomains).toEqual(['new.example.com']);
    const [edit] = await auditOf('tpl', 'projecttemplate.edit');
    expect(edit.data).toMatchObject({ name: 'from Web defaults to Web', 'sentry:origins': 'from ["tpl.example.com"] to ["new.example.com"]' });

    const deleted = await api.delete(`/api/0/organizations/tpl/project-templates/${id}/`);
    expect(deleted.status).toBe(204);
    expect((await api.get(`/api/0/organizations/tpl/project-templates/${id}/`)).status).toBe(404);
    expect((await api.get('/api/0/projects/tpl/web/')).body).toMatchObject({ templateId: null, allowedDomains: ['*'] });
    expect((await configOf(container, key.id)).config.allowedDomains).toEqual(['*']);
    expect((await auditOf('tpl', 'projecttemplate.remove'))[0].data).toEqual({ name: 'Web', projects: ['web'] });
  });

  it('answers 400 for bad template input and for a template of another organization', async () => {
    await createOrgWithProject(api, token, 'tpl-a');
    await createOrgWithProject(api, token, 'tpl-b');
    const foreign = await api.post('/api/0/organizations/tpl-b/project-templates/', { name: 'B' });
    expect((await api.put('/api/0/projects/tpl-a/web/', { templateId: foreign.body.id })).body).toEqual({ templateId: ['Project template not found in this organization.'] });
    expect((await api.put('/api/0/projects/tpl-a/web/', { templateId: 99_999_999_999 })).body).toEqual({ templateId: ['Must be a valid id.'] });
    expect((await api.put('/api/0/projects/tpl-a/web/', { templateId: '999999' })).body).toEqual({ templateId: ['Project template not found in this organization.'] });
    expect((await api.get(`/api/0/organizations/tpl-a/project-templates/${foreign.body.id}/`)).status).toBe(404);
    expect((await api.get('/api/0/organizations/tpl-a/project-templates/99999999999/')).status).toBe(404);
    expect((await api.get('/api/0/organizations/tpl-a/project-templates/abc/')).status).toBe(404);
    const bad = await api.post('/api/0/organizations/tpl-a/project-templates/', { options: { 'sentry:nope': 1, 'sentry:scrub_data': 'x' }, extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      extra: ['Unknown field. Known fields: name, options.'],
      name: ['This field is required.'],
      options: ['Unknown option "sentry:nope"', 'Invalid value for "sentry:scrub_data": Invalid input: expected boolean, received string'],
    });
  });
});
