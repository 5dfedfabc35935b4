import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultGlobalConfig } from '../src/relay-config/global-config';
import { computeOptionsOf, computeProjectConfigs } from '../src/db/compute-configs';
import { Organization, OrganizationOption } from '../src/db/entities';
import { seed, type SeedResult } from '../src/db/seed';
import { scrape } from '../bench/prometheus';
import { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { storedConfigs } from './support/stored-configs';

const UNKNOWN = 'f'.repeat(32);

/** Removes the fields that differ between two computations of the same data. */
function stable(config: unknown): unknown {
  const { rev, lastFetch, lastChange, ...rest } = config as Record<string, unknown>;
  void rev;
  void lastFetch;
  void lastChange;
  return rest;
}

describe('projectconfigs v3 (post-or-schedule by key)', () => {
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;
  const builds = () => scrape(server.url, 'relay_projectconfig_builds_total');

  beforeAll(async () => {
    server = await startTestServer({ RELAY_GLOBAL_CONFIG: '{"measurements":{"maxCustomMeasurements":10}}' });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 2, projects: 4, keys: 2 });
    expect(seeded.publicKeys).toHaveLength(16);
  });
  afterAll(async () => {
    await server.close();
  });

  it('lists uncached keys as pending, then serves every config; an unknown key is disabled', async () => {
    const keys = [...seeded.publicKeys.slice(0, 6), UNKNOWN];
    const first = await relay.projectConfigs({ publicKeys: keys, fullConfig: true });
    expect(first.status).toBe(200);
    expect(first.body.configs).toEqual({});
    expect(first.body.pending?.sort()).toEqual([...keys].sort());

    const { configs } = await relay.pollConfigs(keys);
    expect(configs.get(UNKNOWN)).toEqual({ disabled: true });
    const { configs: fresh } = await computeProjectConfigs(server.container.orm.em.fork(), keys.slice(0, 6), computeOptionsOf(server.container.settings));
    for (const computed of fresh) {
      const served = configs.get(computed.publicKey) as { publicKeys: { publicKey: string }[] };
      expect(stable(served)).toEqual(stable(computed.config));
      expect(served.publicKeys[0].publicKey).toBe(computed.publicKey);
    }
  });

  it('serves a second poll entirely from the cache: no build happens', async () => {
    const keys = seeded.publicKeys.slice(6, 12);
    await relay.pollConfigs(keys);
    const before = await builds();
    const again = await relay.projectConfigs({ publicKeys: keys });
    expect(again.body.pending).toEqual([]);
    expect(Object.keys(again.body.configs ?? {}).sort()).toEqual([...keys].sort());
    expect(await builds()).toBe(before);
  });

  it('answers unchanged for a matching revision, never for null, and ignores misaligned revisions', async () => {
    const [a, b] = seeded.publicKeys.slice(12, 14) as [string, string];
    const { configs } = await relay.pollConfigs([a, b]);
    const revA = (configs.get(a) as { rev: string }).rev;
    const answer = await relay.projectConfigs({ publicKeys: [a, b], revisions: [revA, null] });
    expect(answer.body.unchanged).toEqual([a]);
    expect(Object.keys(answer.body.configs ?? {})).toEqual([b]);
    const stale = await relay.projectConfigs({ publicKeys: [a], revisions: ['0'.repeat(32)] });
    expect(Object.keys(stale.body.configs ?? {})).toEqual([a]);
    const misaligned = await relay.projectConfigs({ publicKeys: [a, b], revisions: [revA] });
    expect(misaligned.body.unchanged).toBeUndefined();
    expect(Object.keys(misaligned.body.configs ?? {}).sort()).toEqual([a, b].sort());
  });

  it('leaves keys that are not 32 lower-case hex characters out of every map', async () => {
    const bad = ['ABCDEFABCDEFABCDEFABCDEFABCDEFAB', 'short', `${'a'.repeat(32)}x`, ''];
    const response = await relay.projectConfigs({ publicKeys: bad });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ configs: {}, pending: [] });
  });

  it("adds Sentry's global config with RELAY_GLOBAL_CONFIG merged over it, with status ready under both names", async () => {
    const response = await relay.projectConfigs({ global: true, publicKeys: [] });
    expect(response.body).toEqual({
      configs: {},
      pending: [],
      global: { ...defaultGlobalConfig(), measurements: { maxCustomMeasurements: 10 } },
      globalStatus: 'ready',
      global_status: 'ready',
    });
  });

  it('computes synchronously with noCache and refreshes the cache', async () => {
    const key = seeded.publicKeys[14];
    const response = await relay.projectConfigs({ publicKeys: [key], noCache: true });
    expect(response.body.pending).toEqual([]);
    const config = response.body.configs?.[key] as { rev: string };
    expect(config.rev).toMatch(/^[0-9a-f]{32}$/);
    const cached = await storedConfigs(server.container, [key]);
    expect(JSON.parse(cached.get(key)!).rev).toBe(config.rev);
  });

  it('disables the cached and the uncached keys of an organization pending deletion', async () => {
    const org = seeded.organizations[1];
    const cachedKey = org.projects[2].publicKeys[1];
    const uncachedKey = org.projects[3].publicKeys[1];
    await relay.pollConfigs([cachedKey]);
    expect((await storedConfigs(server.container, [cachedKey, uncachedKey])).size).toBe(1);
    const em = server.container.orm.em.fork();
    (await em.findOneOrFail(Organization, org.id)).status = 'pending_deletion';
    await em.flush();
    // The invalidation (after its coalescing delay) recomputes the cached key.
    await expect.poll(async () => (await relay.pollConfigs([cachedKey])).configs.get(cachedKey), { timeout: 10_000, interval: 100 }).toEqual({ disabled: true });
    expect((await relay.pollConfigs([uncachedKey])).configs.get(uncachedKey)).toEqual({ disabled: true });
  });
  it('answers Accept-Encoding: gzip with a gzip body spliced from stored pieces that decodes to exactly the plain reply', async () => {
    // Keys of an organization nothing else in this file changes.
    const keys = seeded.organizations[0].projects.flatMap((p) => p.publicKeys).slice(0, 4);
    expect(keys).toHaveLength(4);
    await relay.pollConfigs(keys);
    const url = '/api/0/relays/projectconfigs/?version=3';
    const plain = await relay.postRaw(url, { publicKeys: keys }, { 'accept-encoding': 'identity' });
    const gzipped = await relay.postRaw(url, { publicKeys: keys }, { 'accept-encoding': 'gzip' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toBe('Accept-Encoding');
    expect(JSON.parse(plain.body.toString('utf8')).pending).toEqual([]);
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: gzipped.body }).equals(plain.body)).toBe(true);
    expect(gzipped.body.length).toBeLessThan(plain.body.length);
    // q=0 refuses gzip: the plain bytes.
    expect((await relay.postRaw(url, { publicKeys: keys }, { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding']).toBeUndefined();
  });
});

describe('projectconfigs versions 1 and 2, version handling and bad input', () => {
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;

  beforeAll(async () => {
    server = await startTestServer({}, { workers: false });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 1, projects: 2, keys: 2 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('computes v2 synchronously by key, without pending, and writes the cache', async () => {
    const keys = [seeded.publicKeys[0], UNKNOWN];
    const response = await relay.projectConfigs({ publicKeys: keys }, '2');
    expect(response.status).toBe(200);
    expect(response.body).not.toHaveProperty('pending');
    expect(response.body.configs?.[UNKNOWN]).toEqual({ disabled: true });
    expect((response.body.configs?.[keys[0]] as { projectId: number }).projectId).toBe(seeded.organizations[0].projects[0].id);
    expect((await storedConfigs(server.container, keys)).size).toBe(2);
  });

  it('computes v1 by project id (the only map keyed by project), listing every key; version defaults to 1', async () => {
    const project = seeded.organizations[0].projects[1];
    for (const version of ['1', null]) {
      const response = await relay.projectConfigs({ projects: [project.id, 999_999] }, version);
      expect(response.status).toBe(200);
      const config = response.body.configs?.[String(project.id)] as { publicKeys: { publicKey: string }[] };
      expect(config.publicKeys.map((k) => k.publicKey).sort()).toEqual([...project.publicKeys].sort());
      expect(response.body.configs?.['999999']).toEqual({ disabled: true });
    }
  });

  it.each(['0', '4', 'three', ''])('refuses version=%s with 400 and the string body', async (version) => {
    const response = await relay.post(`/api/0/relays/projectconfigs/?version=${version}`, { publicKeys: [] });
    expect(response.status).toBe(400);
    expect(response.body).toBe('Unsupported version, we only support versions 1 to 3.');
  });

  it.each([
    ['publicKeys is not a list', { publicKeys: 'abc' }],
    ['publicKeys holds a number', { publicKeys: [1] }],
    ['more than 500 keys', { publicKeys: Array.from({ length: 501 }, (_, i) => i.toString(16).padStart(32, '0')) }],
    ['revisions of the wrong type', { publicKeys: [], revisions: 'x' }],
    ['noCache of the wrong type', { publicKeys: [], noCache: 'yes' }],
    ['a body that is not an object', [1, 2]],
  ])('answers 400 JSON when %s', async (_, body) => {
    const response = await relay.projectConfigs(body as Record<string, unknown>);
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: expect.any(String) });
  });

  it('answers 413 JSON for a body over 1 MiB', async () => {
    const response = await relay.projectConfigs({ publicKeys: [], padding: 'x'.repeat(1024 * 1024) });
    expect(response.status).toBe(413);
    expect(response.body).toEqual({ detail: expect.stringContaining('larger than') });
  });

  it('refuses a registered but not internal relay with 403 and the string body', async () => {
    const outsider = new TestRelay(server.url);
    await outsider.register();
    for (const version of ['1', '2', '3']) {
      const response = await outsider.projectConfigs({ publicKeys: [seeded.publicKeys[0]] }, version);
      expect(response.status).toBe(403);
      expect(response.body).toBe('Relay unauthorized for config information');
    }
  });
});

describe('trusted external relays (RELAY_ALLOW_TRUSTED)', () => {
  let server: TestServer;
  let seeded: SeedResult;

  beforeAll(async () => {
    server = await startTestServer({ RELAY_ALLOW_TRUSTED: 'true' });
    seeded = await seed(server.container.orm.em.fork(), { orgs: 2, projects: 1, keys: 1 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('gives a relay trusted by the organization a restricted config and others a disabled one', async () => {
    const trusted = new TestRelay(server.url);
    await trusted.register();
    const em = server.container.orm.em.fork();
    const option = await em.findOneOrFail(OrganizationOption, { organization: seeded.organizations[0].id, key: 'sentry:trusted-relays' });
    option.value = [...(option.value as object[]), { publicKey: trusted.publicKey, name: 'edge', description: '', created: new Date().toISOString(), lastModified: new Date().toISOString() }];
    await em.flush();

    const [ownKey, otherKey] = [seeded.organizations[0].projects[0].publicKeys[0], seeded.organizations[1].projects[0].publicKeys[0]];
    const { configs } = await trusted.pollConfigs([ownKey, otherKey]);
    const own = configs.get(ownKey) as { disabled: boolean; config: Record<string, unknown> };
    expect(own.disabled).toBe(false);
    expect(Object.keys(own.config).sort()).toEqual(['allowedDomains', 'datascrubbingSettings', 'features', 'piiConfig', 'sampling', 'trustedRelays']);
    expect(own.config.trustedRelays).toContain(trusted.publicKey);
    expect(configs.get(otherKey)).toEqual({ disabled: true });
  });
});

describe('Bull Board', () => {
  it('refuses everyone when no credentials are configured', async () => {
    const server = await startTestServer({}, { workers: false });
    try {
      const response = await fetch(new URL('/admin/queues', server.url), { headers: { authorization: `Basic ${Buffer.from('admin:').toString('base64')}` } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('Basic');
    } finally {
      await server.close();
    }
  });

  it('serves the board read-only to the configured user, and refuses a wrong password', async () => {
    const server = await startTestServer({ BULL_BOARD_USER: 'ops', BULL_BOARD_PASSWORD: 's3cret' }, { workers: false });
    const auth = (password: string) => ({ authorization: `Basic ${Buffer.from(`ops:${password}`).toString('base64')}` });
    try {
      expect((await fetch(new URL('/admin/queues', server.url), { headers: auth('wrong') })).status).toBe(401);
      const page = await fetch(new URL('/admin/queues', server.url), { headers: auth('s3cret') });
      expect(page.status).toBe(200);
      const api = await fetch(new URL('/admin/queues/api/queues', server.url), { headers: auth('s3cret') });
      const queues = (await api.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
      expect(queues.queues.map((q) => [q.name, q.readOnlyMode]).sort()).toEqual([
        ['organization-email-verification', true],
        ['relay-config-build', true],
        ['relay-config-invalidate', true],
        ['relay-config-recompute-all', true],
        ['relay-prune', true],
      ]);
    } finally {
      await server.close();
    }
  });
});
