import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from '../bench/prometheus';
import { OrganizationOption, ProjectOption } from '../src/db/entities';
import { seed, type SeedResult } from '../src/db/seed';
import { MAX_CONFIG_BYTES } from '../src/options/bounds';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { waitForQueuesToSettle } from './support/settle';
import { storedConfigs } from './support/stored-configs';
import { runCli } from './support/cli';

/**
 * One tenant's bad stored data must never stop config delivery for others. Values are inserted
 * straight into the option tables, bypassing validation, as rows written before the checks would be.
 */

const CLAIM_TTL_S = 3;
const BAD_PII = '{"applications":{"constructor":["@ip:remove"]}}';

describe('a batch with one tenant’s bad stored options', () => {
  let server: TestServer;
  let relay: TestRelay;
  let orgs: SeedResult['organizations'];
  /** org-a: a PII config with an inherited selector, stored before the fix (builds now). */
  let keyA: string;
  /** org-b: plain. */
  let keyB: string;
  /** org-c: an option of the wrong type, which the builder cannot use (fails alone). */
  let keyBroken: string;
  /** org-c, another project: plain. */
  let keyC: string;
  /** org-d: a config far over the size cap (fails alone). */
  let keyHuge: string;
  const failures = (labels: Record<string, string>) => scrape(server.url, 'relay_projectconfig_build_failures_total', labels);

  beforeAll(async () => {
    server = await startTestServer({ BUILD_CLAIM_TTL_S: String(CLAIM_TTL_S), INVALIDATION_DELAY_MS: '50' });
    relay = await server.internalRelay();
    ({ organizations: orgs } = await seed(server.container.orm.em.fork(), { orgs: 4, projects: 2, keys: 1, bare: true }));
    keyA = orgs[0].projects[0].publicKeys[0]!;
    keyB = orgs[1].projects[0].publicKeys[0]!;
    keyBroken = orgs[2].projects[0].publicKeys[0]!;
    keyC = orgs[2].projects[1].publicKeys[0]!;
    keyHuge = orgs[3].projects[0].publicKeys[0]!;
    const em = server.container.orm.em.fork();
    em.create(ProjectOption, { project: orgs[0].projects[0].id, key: 'sentry:relay_pii_config', value: BAD_PII });
    em.create(ProjectOption, { project: orgs[2].projects[0].id, key: 'sentry:safe_fields', value: 5 });
    em.create(ProjectOption, { project: orgs[3].projects[0].id, key: 'sentry:sensitive_fields', value: Array.from({ length: 1100 }, () => 'x'.repeat(4000)) });
    await em.flush();
    await waitForQueuesToSettle(server.container, { quietMs: 200 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('v3: serves org-a (merged safely) and org-b in the same poll; the broken key stays pending alone', async () => {
    const keys = [keyA, keyB, keyBroken];
    const served = new Map<string, unknown>();
    let pending: string[] = keys;
    const deadline = Date.now() + 10_000;
    while (!(served.has(keyA) && served.has(keyB)) && Date.now() < deadline) {
      const response = await relay.projectConfigs({ publicKeys: keys, fullConfig: true });
      expect(response.status).toBe(200);
      for (const [key, config] of Object.entries(response.body.configs ?? {})) served.set(key, config);
      pending = response.body.pending ?? [];
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((served.get(keyA) as { config: { piiConfig: unknown } }).config.piiConfig).toEqual({ applications: { constructor: ['@ip:remove'] } });
    expect((served.get(keyB) as { disabled: boolean }).disabled).toBe(false);
    expect(served.has(keyBroken)).toBe(false);
    expect(pending).toEqual([keyBroken]);
    await expect.poll(() => failures({ reason: 'build_error', trigger: 'build' }), { timeout: 5000 }).toBeGreaterThanOrEqual(1);
    expect(await storedConfigs(server.container, [keyBroken])).toEqual(new Map());
  });

  it('v3: keeps the failed key’s claim until it expires (no rebuild per poll), then a later poll builds it again', async () => {
    const claim = server.container.layout.claim(keyBroken);
    // A fresh claim and build for this key alone.
    await expect.poll(async () => server.container.redis.exists(claim), { timeout: (CLAIM_TTL_S + 2) * 1000 }).toBe(0);
    const before = await failures({ reason: 'build_error', trigger: 'build' });
    expect((await relay.projectConfigs({ publicKeys: [keyBroken] })).body.pending).toEqual([keyBroken]);
    await expect.poll(() => failures({ reason: 'build_error', trigger: 'build' }), { timeout: 2000, interval: 20 }).toBe(before + 1);
    expect(await server.container.redis.pttl(claim)).toBeGreaterThan(0);
    // Relay's re-polls while the claim lives find the build "in flight" and schedule nothing.
    for (let i = 0; i < 5; i++) {
      expect((await relay.projectConfigs({ publicKeys: [keyBroken] })).body.pending).toEqual([keyBroken]);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await failures({ reason: 'build_error', trigger: 'build' })).toBe(before + 1);

    // Once the data is fixed, the first poll after the claim expired serves the key.
    const em = server.container.orm.em.fork();
    await em.nativeDelete(ProjectOption, { project: orgs[2].projects[0].id, key: 'sentry:safe_fields' });
    const { configs } = await relay.pollConfigs([keyBroken], { timeoutMs: (CLAIM_TTL_S + 5) * 1000 });
    expect((configs.get(keyBroken) as { disabled: boolean }).disabled).toBe(false);
    // Broken again for the tests below.
    em.create(ProjectOption, { project: orgs[2].projects[0].id, key: 'sentry:safe_fields', value: 5 });
    await em.flush();
    await waitForQueuesToSettle(server.container, { quietMs: 200 });
    await server.container.configCache.delete([keyBroken]);
  });

  it('v2 and noCache answer 200 with every good key and leave the failed ones out', async () => {
    const keys = [keyA, keyB, keyBroken, keyHuge];
    const beforeTooLarge = await failures({ reason: 'too_large', trigger: 'request' });
    const v2 = await relay.projectConfigs({ publicKeys: keys }, '2');
    expect(v2.status).toBe(200);
    expect(Object.keys(v2.body.configs ?? {}).sort()).toEqual([keyA, keyB].sort());
    expect(v2.body).not.toHaveProperty('pending');

    const noCache = await relay.projectConfigs({ publicKeys: keys, noCache: true });
    expect(noCache.status).toBe(200);
    expect(Object.keys(noCache.body.configs ?? {}).sort()).toEqual([keyA, keyB].sort());
    expect(noCache.body.pending).toEqual([]);
    expect(await failures({ reason: 'too_large', trigger: 'request' })).toBe(beforeTooLarge + 2);
    expect(await scrape(server.url, 'relay_projectconfig_keys_total', { result: 'failed' })).toBeGreaterThanOrEqual(2);
    // Nothing is cached for a key that failed.
    expect([...(await storedConfigs(server.container, keys)).keys()].sort()).toEqual([keyA, keyB].sort());
    expect(MAX_CONFIG_BYTES).toBeLessThan(1100 * 4000);
  });

  it('v1 answers 200 with the good projects and leaves the failed one out', async () => {
    const [good, broken] = [orgs[1].projects[0].id, orgs[2].projects[0].id];
    const response = await relay.projectConfigs({ projects: [good, broken] }, '1');
    expect(response.status).toBe(200);
    expect(Object.keys(response.body.configs ?? {})).toEqual([String(good)]);
  });

  it('an invalidation recomputes the good keys of its scope and drops the stale config of the failed one', async () => {
    // keyC and keyBroken share org-c; keyBroken still has a config cached from before it broke.
    await relay.pollConfigs([keyC]);
    const startedAt = await server.container.configCache.generation();
    const stale = { publicKey: keyBroken, json: '{"disabled":false,"stale":true}', rev: 'f'.repeat(32), organizationId: null, projectId: null };
    expect((await server.container.configCache.writeIfCurrent([stale], startedAt, 3600, null)).written).toEqual([keyBroken]);
    const before = await failures({ reason: 'build_error', trigger: 'invalidation' });
    const em = server.container.orm.em.fork();
    em.create(OrganizationOption, { organization: orgs[2].id, key: 'sentry:require_scrub_ip_address', value: true });
    await em.flush();
    await expect
      .poll(async () => JSON.parse((await storedConfigs(server.container, [keyC])).get(keyC)!).config.datascrubbingSettings.scrubIpAddresses, { timeout: 10_000 })
      .toBe(true);
    await expect.poll(async () => (await storedConfigs(server.container, [keyBroken])).size, { timeout: 5000 }).toBe(0);
    expect(await failures({ reason: 'build_error', trigger: 'invalidation' })).toBe(before + 1);
  });

  it('configs show prints the config of a key merged safely, and a clear error for the broken key', async () => {
    Object.assign(process.env, {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: server.container.settings.databaseUrl,
      REDIS_URL: server.container.settings.redisUrl,
      REDIS_KEY_PREFIX: server.container.settings.redisKeyPrefix,
    });
    const run = runCli;
    const good = await run('configs', 'show', keyA);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout).config.piiConfig).toEqual({ applications: { constructor: ['@ip:remove'] } });
    const bad = await run('configs', 'show', keyBroken);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^error: the config of ${keyBroken} cannot be computed \\(build_error\\): .+\\n$`));
  });
});
