import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SeedResult } from '../src/db/seed';
import { cleanUpPrefix, isolatedEnv, testSettings } from './support/harness';
import { scrape } from '../bench/prometheus';
import { ROOT, startRole, type RoleProcess } from './support/processes';
import { TestRelay } from './support/relay-client';

const run = promisify(execFile);

/**
 * The service as users scale it out: `npm run start:api` and `npm run start:worker` as separate
 * processes, data seeded with the CLI, and a Relay-like client registering and polling.
 */
describe('API and worker as separate processes', () => {
  let env: Record<string, string>;
  let api: RoleProcess;
  let worker: RoleProcess;
  let relay: TestRelay;
  let seeded: SeedResult;
  const builds = () => scrape(worker.url, 'relay_projectconfig_builds_total');

  beforeAll(async () => {
    const fresh = new TestRelay('http://placeholder');
    const isolated = await isolatedEnv();
    env = { ...isolated, REDIS_URL: testSettings().redisUrl, RELAY_WHITELIST_PK: fresh.publicKey, LOG_LEVEL: 'info' };
    api = await startRole('api', env);
    worker = await startRole('worker', env);
    relay = new TestRelay(api.url, { secret: fresh.secret, relayId: fresh.relayId });
    const { stdout } = await run('npm', ['run', '-s', 'cli', '--', 'seed', '--orgs', '3', '--projects', '10', '--keys', '2'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
    });
    seeded = JSON.parse(stdout) as SeedResult;
  }, 120_000);

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await cleanUpPrefix(env.REDIS_KEY_PREFIX);
  });

  it('registers a fresh relay and serves all 60 seeded configs plus a disabled unknown key', async () => {
    expect(seeded.publicKeys).toHaveLength(60);
    await relay.register();
    const unknown = '0'.repeat(32);
    const { configs } = await relay.pollConfigs([...seeded.publicKeys, unknown], { timeoutMs: 30_000 });
    expect(configs.size).toBe(61);
    expect(configs.get(unknown)).toEqual({ disabled: true });
    for (const key of seeded.publicKeys) {
      const config = configs.get(key) as { disabled: boolean; publicKeys: { publicKey: string }[]; config: { trustedRelays: string[] } };
      expect(config.disabled).toBe(false);
      expect(config.publicKeys[0].publicKey).toBe(key);
      expect(config.config.trustedRelays).toHaveLength(2);
    }
    expect(await builds()).toBe(61);
  });

  it('answers a second poll entirely from the cache: the build counter does not move', async () => {
    const before = await builds();
    const response = await relay.projectConfigs({ publicKeys: seeded.publicKeys });
    expect(response.body.pending).toEqual([]);
    expect(Object.keys(response.body.configs ?? {})).toHaveLength(60);
    expect(await builds()).toBe(before);
    expect(await scrape(api.url, 'relay_projectconfig_keys_total', { result: 'cached' })).toBeGreaterThanOrEqual(60);
  });

  it('stops both roles gracefully on SIGTERM', async () => {
    await Promise.all([api.stop(), worker.stop()]);
    for (const role of [api, worker]) {
      expect(role.output()).toContain('"msg":"shutting down"');
      expect(role.output()).toContain('"msg":"stopped"');
    }
  });
});
