import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import { removeRelay } from '../src/services/relays';
import { verifyCachedConfigs } from '../src/services/config-drift';
import { cacheConfigs, cachedConfig, createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { cleanUpPrefix, isolatedEnv, testContainer, testSettings } from './support/harness';
import { startRole, type RoleProcess } from './support/processes';
import { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { waitForQueuesToSettle } from './support/settle';
import { TcpProxy } from './support/tcp-proxy';

const outboxDepth = async (server: { container: TestServer['container'] }) =>
  Number((await server.container.orm.em.getConnection().execute<{ n: number }[]>('select count(*)::int as n from "config_outbox"'))[0].n);

/** A Redis URL that reaches the real Redis through `proxy`. */
function viaProxy(proxy: TcpProxy): string {
  const url = new URL(testSettings().redisUrl);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return url.toString();
}

async function redisProxy(): Promise<TcpProxy> {
  const target = new URL(testSettings().redisUrl);
  return new TcpProxy(target.hostname, Number(target.port || 6379)).start();
}

describe('changes accepted while Redis is cut reach the Relays once it returns', () => {
  let proxy: TcpProxy;
  let server: TestServer;
  let api: ApiClient;

  beforeAll(async () => {
    proxy = await redisProxy();
    server = await startTestServer({ REDIS_URL: viaProxy(proxy), INVALIDATION_DELAY_MS: '100', OUTBOX_POLL_MS: '100' });
    const { token } = await userWithToken(server.container, { superuser: true });
    api = await startApi(server.container, token);
  });
  afterAll(async () => {
    proxy.restore();
    await api.close();
    await server.close();
    await proxy.close();
  });

  it('organization and project options, trusted relays, a deactivated key, a deleted project and a removed relay', async () => {
    const { token } = await userWithToken(server.container, { superuser: true });
    const { key } = await createOrgWithProject(api, token, 'cut');
    const second = await api.post('/api/0/teams/cut/backend/projects/', { name: 'Gone', slug: 'gone', platform: 'python' });
    expect(second.status).toBe(201);
    const extra = await api.post('/api/0/projects/cut/web/keys/', { name: 'second' });
    expect(extra.status).toBe(201);
    const goneKeys = (await api.get('/api/0/projects/cut/gone/keys/')).body.map((k: { public: string }) => k.public);
    const keys = [key.public, extra.body.public, ...goneKeys];
    await cacheConfigs(server.container, keys);
    const removed = new TestRelay(server.url, { secret: generateRelayKeyPair().secret });
    await removed.register();
    expect((await removed.projectConfigs({ publicKeys: [key.public] })).status).not.toBe(401);
    await waitForQueuesToSettle(server.container);

    proxy.cut();
    const trusted = generateRelayKeyPair();
    const changes = [
      await api.put('/api/0/organizations/cut/', { safeFields: ['during-the-cut'] }),
      await api.put('/api/0/organizations/cut/', { trustedRelays: [{ name: 'edge', publicKey: trusted.public }] }),
      await api.put('/api/0/projects/cut/web/', { options: { 'sentry:blacklisted_ips': ['10.1.2.0/24'] } }),
      await api.put(`/api/0/projects/cut/web/keys/${extra.body.id}/`, { isActive: false }),
      await api.delete('/api/0/projects/cut/gone/'),
    ];
    expect(changes.map((r) => r.status)).toEqual([200, 200, 200, 200, 204]);
    expect(await removeRelay(server.container, removed.relayId)).toBe(true);
    expect(await outboxDepth(server)).toBeGreaterThanOrEqual(6);

    proxy.restore();
    // Nothing else is touched: the worker's drainer publishes what waited.
    await expect.poll(() => outboxDepth(server), { timeout: 20_000, interval: 100 }).toBe(0);
    await waitForQueuesToSettle(server.container, { timeoutMs: 20_000 });
    const report = await verifyCachedConfigs(server.container, { organizationSlug: 'cut' });
    expect(report.drift).toEqual([]);
    expect(report.cached).toBeGreaterThanOrEqual(2);
    expect((await cachedConfig(server.container, key.public)).config.trustedRelays).toEqual([trusted.public]);
    for (const publicKey of goneKeys) expect(await cachedConfig(server.container, publicKey)).toEqual({ disabled: true });
    expect(await cachedConfig(server.container, extra.body.public)).toEqual({ disabled: true });
    expect((await removed.projectConfigs({ publicKeys: [key.public] })).status).toBe(401);
  });
});

describe('a change committed by an API process that dies before it could publish', () => {
  let proxy: TcpProxy;
  let apiProcess: RoleProcess | null = null;
  let worker: RoleProcess | null = null;
  let env: Record<string, string>;

  beforeAll(async () => {
    proxy = await redisProxy();
    env = await isolatedEnv({ INVALIDATION_DELAY_MS: '100', OUTBOX_POLL_MS: '100' });
  });
  afterAll(async () => {
    proxy.restore();
    await apiProcess?.kill();
    await worker?.stop();
    await proxy.close();
    await cleanUpPrefix(env.REDIS_KEY_PREFIX);
  });

  it('is published by a worker', async () => {
    apiProcess = await startRole('api', { ...env, REDIS_URL: viaProxy(proxy) });
    const container = await testContainer({ ...env, REDIS_URL: testSettings().redisUrl });
    try {
      const { token } = await userWithToken(container, { superuser: true });
      const api = { post: (p: string, body: unknown) => fetchJson(apiProcess!.url, 'POST', p, token, body), get: (p: string) => fetchJson(apiProcess!.url, 'GET', p, token) };
      const { key } = await createOrgWithProject(api as unknown as ApiClient, token, 'dies');
      await cacheConfigs(container, [key.public]);

      proxy.cut();
      const put = await fetchJson(apiProcess.url, 'PUT', '/api/0/organizations/dies/', token, { safeFields: ['after-the-crash'] });
      expect(put.status).toBe(200);
      await apiProcess.kill();
      apiProcess = null;
      expect(await outboxDepth({ container })).toBeGreaterThanOrEqual(1);
      expect((await verifyCachedConfigs(container, { organizationSlug: 'dies' })).drift).toHaveLength(1);

      worker = await startRole('worker', { ...env, REDIS_URL: testSettings().redisUrl });
      await expect.poll(() => outboxDepth({ container }), { timeout: 30_000, interval: 200 }).toBe(0);
      await waitForQueuesToSettle(container, { timeoutMs: 20_000 });
      expect((await verifyCachedConfigs(container, { organizationSlug: 'dies' })).drift).toEqual([]);
      expect((await cachedConfig(container, key.public)).config.datascrubbingSettings.excludeFields).toContain('after-the-crash');
    } finally {
      await container.close();
    }
  }, 90_000);
});

async function fetchJson(base: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}
