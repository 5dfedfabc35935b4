import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectOption } from '../src/db/entities';
import { seed, type SeedResult } from '../src/db/seed';
import { startWorkers, type RunningWorkers } from '../src/jobs/worker-runtime';
import { cacheConfigs, userWithToken } from './support/admin';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';

/**
 * `GET /api/0/projects/{org}/{project}/keys/{keyId}/config-status/`: `configs status` over the
 * management API (the same service function), for a key of the project in the path.
 */
describe('GET …/keys/{keyId}/config-status/', () => {
  let server: TestServer;
  let workers: RunningWorkers | null = null;
  let relay: TestRelay;
  let token: string;
  let seeded: SeedResult;
  let org: SeedResult['organizations'][number];

  beforeAll(async () => {
    // Workers start only in the last step: until then a claimed key's build waits in the queue.
    server = await startTestServer({}, { workers: false });
    relay = await server.internalRelay();
    ({ token } = await userWithToken(server.container, { superuser: true, scopes: ['project:read'] }));
    seeded = await seed(server.container.orm.em.fork(), { orgs: 2, projects: 3, keys: 1, bare: true });
    org = seeded.organizations[0];
  });
  afterAll(async () => {
    await workers?.close();
    await server.close();
  });

  const statusOf = async (projectIndex: number, keyId = org.projects[projectIndex].publicKeys[0], auth: string | null = token) => {
    const res = await fetch(`${server.url}/api/0/projects/${org.slug}/${org.projects[projectIndex].slug}/keys/${keyId}/config-status/`, {
      headers: auth ? { authorization: `Bearer ${auth}` } : {},
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('tells a cached key, a key whose build is in flight and a key whose build failed apart', async () => {
    const [cachedKey, inFlightKey, brokenKey] = org.projects.map((p) => p.publicKeys[0]);

    await cacheConfigs(server.container, [cachedKey]);
    const cached = await statusOf(0);
    expect(cached.status).toBe(200);
    expect(cached.body).toMatchObject({ publicKey: cachedKey, state: 'cached', cached: { rev: expect.stringMatching(/^[0-9a-f]+$/), since: expect.any(String), disabled: false }, claim: null, lastFailure: null });

    // A Relay's poll claims the key; no worker runs, so its build stays queued.
    expect((await relay.projectConfigs({ publicKeys: [inFlightKey] })).body.pending).toEqual([inFlightKey]);
    const building = await statusOf(1);
    expect(building.body).toMatchObject({ publicKey: inFlightKey, state: 'building', cached: null, claim: { since: expect.any(String), expiresInS: expect.any(Number) }, lastFailure: null });

    // A stored option no config can be built from: the worker's real build of this key fails.
    const em = server.container.orm.em.fork();
    em.create(ProjectOption, { project: org.projects[2].id, key: 'sentry:safe_fields', value: 5 });
    await em.flush();
    workers = startWorkers(server.container);
    expect((await relay.projectConfigs({ publicKeys: [brokenKey] })).body.pending).toEqual([brokenKey]);
    await expect.poll(async () => (await statusOf(2)).body.state, { timeout: 10_000, interval: 100 }).toBe('failed');
    expect((await statusOf(2)).body).toMatchObject({ publicKey: brokenKey, state: 'failed', cached: null, lastFailure: { reason: 'build_error', message: expect.any(String), attempts: 1 } });
    // Meanwhile the queued build of the in-flight key ran: it is cached now.
    await expect.poll(async () => (await statusOf(1)).body.state, { timeout: 10_000, interval: 100 }).toBe('cached');
  });

  it('answers 404 for a key of another project or not a key at all, 401 without a token', async () => {
    const elsewhere = seeded.organizations[1].projects[0].publicKeys[0];
    expect(await statusOf(0, elsewhere)).toEqual({ status: 404, body: { detail: 'The requested resource does not exist' } });
    expect(await statusOf(0, org.projects[1].publicKeys[0])).toMatchObject({ status: 404 });
    expect(await statusOf(0, 'not-a-key')).toMatchObject({ status: 404 });
    expect((await statusOf(0, undefined, null)).status).toBe(401);
  });
});
