import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry, ProjectKey } from '../src/db/entities';
import { cacheConfigs, cachedConfig, configOf, createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

let container: Container;
let api: ApiClient;
let defaultKey: any;
let token: string;

beforeAll(async () => {
  container = await testContainer();
  ({ token } = await userWithToken(container));
  api = await startApi(container, token);
  ({ key: defaultKey } = await createOrgWithProject(api, token, 'keys'));
  await createOrgWithProject(api, token, 'elsewhere');
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const base = '/api/0/projects/keys/web/keys';
const em = () => container.orm.em.fork();
const auditOf = (event: string) => em().find(AuditLogEntry, { organization: { slug: 'keys' }, event }, { orderBy: { id: 'asc' } });

describe('project keys', () => {
  it('shows a key as Sentry does, with DSNs built from SYSTEM_URL_PREFIX, not from the Host the client sent', async () => {
    const res = await api.get(`${base}/${defaultKey.id}/`);
    expect(res.status).toBe(200);
    const key = await em().findOneOrFail(ProjectKey, { publicKey: defaultKey.id }, { populate: ['project'] });
    const host = new URL(container.settings.systemUrlPrefix).host;
    expect(res.body).toEqual({
      id: key.publicKey,
      name: 'Default',
      label: 'Default',
      public: key.publicKey,
      secret: key.secretKey,
      projectId: key.project.id,
      isActive: true,
      rateLimit: null,
      dsn: {
        public: `http://${key.publicKey}@${host}/${key.project.id}`,
        secret: `http://${key.publicKey}:${key.secretKey}@${host}/${key.project.id}`,
      },
      dateCreated: key.dateAdded.toISOString(),
    });
    // fetch cannot set Host; a plain HTTP request can, as a client that lies about it would.
    const proxied = await new Promise<any>((resolve, reject) => {
      const url = new URL(`${api.baseUrl}${base}/${defaultKey.id}/`);
      const req = request(url, { headers: { host: 'sentry.example.com', authorization: `Bearer ${token}` } }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(JSON.parse(text)));
      });
      req.on('error', reject);
      req.end();
    });
    expect(proxied.dsn.public).toBe(`http://${key.publicKey}@${host}/${key.project.id}`);
  });

  it('creates a key (201) with a name and rate limit that reach the config as a key quota', async () => {
    const res = await api.post(`${base}/`, { name: ' CI ', rateLimit: { count: 100, window: 60 } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'CI', label: 'CI', isActive: true, rateLimit: { count: 100, window: 60 } });
    expect(res.body.id).toMatch(/^[0-9a-f]{32}$/);
    expect(res.body.secret).toMatch(/^[0-9a-f]{32}$/);
    const row = await em().findOneOrFail(ProjectKey, { publicKey: res.body.id });
    const config = (await configOf(container, res.body.id)).config;
    expect(config.quotas).toEqual([{ id: 'k', scope: 'key', scopeId: String(row.id), categories: ['default', 'error', 'security'], limit: 100, window: 60, reasonCode: 'key_quota' }]);
    const bare = await api.post(`${base}/`, {});
    expect(bare.status).toBe(201);
    expect(bare.body).toMatchObject({ name: null, rateLimit: null });
    expect((await auditOf('projectkey.add')).map((e) => e.data.label)).toEqual(['Default', 'CI', null]);

    const list = await api.get(`${base}/`);
    expect(list.body.map((k: { name: string | null }) => k.name)).toEqual(['Default', 'CI', null]);
    expect(list.headers.get('link')).toContain('rel="next"; results="false"');
  });

  it('updates name, isActive and rateLimit, audits each change, and invalidates the cached config', async () => {
    const { body: key } = await api.post(`${base}/`, { name: 'to edit' });
    await cacheConfigs(container, [key.id]);
    const counter = await container.configCache.generation();
    const res = await api.put(`${base}/${key.id}/`, { name: 'edited', isActive: false, rateLimit: { count: 0, window: 1 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'edited', isActive: false, rateLimit: { count: 0, window: 1 } });
    expect(await container.configCache.generation()).toBeGreaterThan(counter);
    expect(await configOf(container, key.id)).toEqual({ disabled: true });
    const edits = await auditOf('projectkey.edit');
    expect(edits.at(-1)!.data).toEqual({
      project: 'web',
      publicKey: key.id,
      name: 'from to edit to edited',
      isActive: 'from true to false',
      rateLimit: 'from null to {"count":0,"window":1}',
    });
    const inactive = await api.get(`${base}/?status=inactive`);
    expect(inactive.body.map((k: { id: string }) => k.id)).toEqual([key.id]);

    const back = await api.put(`${base}/${key.id}/`, { isActive: true, rateLimit: null });
    expect(back.body).toMatchObject({ isActive: true, rateLimit: null });
    expect((await configOf(container, key.id)).config.quotas).toBeUndefined();
    // Re-sending the same values records nothing.
    await api.put(`${base}/${key.id}/`, { isActive: true, rateLimit: null, name: 'edited' });
    expect(await auditOf('projectkey.edit')).toHaveLength(edits.length + 1);
  });

  it('deletes a key (204): its cached config is disabled at once and it is gone', async () => {
    const { body: key } = await api.post(`${base}/`, { name: 'to delete' });
    await cacheConfigs(container, [key.id]);
    expect((await cachedConfig(container, key.id)).disabled).toBe(false);
    const res = await api.delete(`${base}/${key.id}/`);
    expect(res.status).toBe(204);
    expect(await cachedConfig(container, key.id)).toEqual({ disabled: true });
    expect(await em().count(ProjectKey, { publicKey: key.id })).toBe(0);
    expect((await api.get(`${base}/${key.id}/`)).status).toBe(404);
    expect((await auditOf('projectkey.remove')).at(-1)!.data).toEqual({ project: 'web', publicKey: key.id, label: 'to delete' });
  });

  it('answers 404 for unknown, malformed or foreign key ids', async () => {
    const foreign = await api.get('/api/0/projects/elsewhere/web/keys/');
    expect((await api.get(`${base}/${foreign.body[0].id}/`)).status).toBe(404);
    expect((await api.get(`${base}/${'0'.repeat(32)}/`)).status).toBe(404);
    expect((await api.get(`${base}/not-a-key/`)).status).toBe(404);
    expect((await api.put(`${base}/not-a-key/`, { name: 'x' })).status).toBe(404);
    expect((await api.delete(`${base}/not-a-key/`)).status).toBe(404);
  });

  it('answers 400 with field errors for bad key input', async () => {
    const bad = async (method: 'post' | 'put', body: unknown) => (method === 'post' ? await api.post(`${base}/`, body) : await api.put(`${base}/${defaultKey.id}/`, body)).body;
    expect(await bad('post', { rateLimit: { count: -1, window: 60 } })).toEqual({ rateLimit: ['count: count must be at least 0.'] });
    expect(await bad('post', { rateLimit: { count: 1 } })).toEqual({ rateLimit: ['window: This field is required.'] });
    expect(await bad('post', { rateLimit: { count: 1, window: 0 } })).toEqual({ rateLimit: ['window: window must be at least 1 second.'] });
    expect(await bad('post', { rateLimit: { count: 1.5, window: 86_401 } })).toEqual({
      rateLimit: ['count: count must be a whole number.', 'window: window must be at most 86400 seconds (one day).'],
    });
    expect(await bad('post', { rateLimit: { count: 1, window: 60, burst: 2 } })).toEqual({ rateLimit: ['unknown field "burst".'] });
    expect(await bad('post', { rateLimit: 5 })).toEqual({ rateLimit: [expect.stringContaining('expected object')] });
    expect(await bad('post', { name: 'x'.repeat(65) })).toEqual({ name: ['Ensure this field has no more than 64 characters.'] });
    expect(await bad('post', { isActive: false })).toEqual({ isActive: ['Unknown field.'] });
    expect(await bad('put', { isActive: 'no' })).toEqual({ isActive: ['Must be a boolean.'] });
    expect(await bad('put', { secret: 'x' })).toEqual({ secret: ['Unknown field.'] });
    expect((await api.get(`${base}/?status=deleted`)).body).toEqual({ status: ['Must be "active" or "inactive".'] });
  });
});
