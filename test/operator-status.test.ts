import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { releaseClaimsOfFailedJob } from '../src/jobs/build-project-config.processor';
import { workerJobDeps } from '../src/jobs/worker-runtime';
import type { BuildJobData } from '../src/queues/build.queue';
import { cacheConfigs, createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';
import { TestRelay } from './support/relay-client';
import { runCli } from './support/cli';

let container: Container;
let api: ApiClient;
let cachedKey: string;
let env: Record<string, string>;
const internal = new TestRelay('http://placeholder');

beforeAll(async () => {
  container = await testContainer({ RELAY_WHITELIST_PK: internal.publicKey });
  env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: container.settings.databaseUrl,
    REDIS_URL: container.settings.redisUrl,
    REDIS_KEY_PREFIX: container.settings.redisKeyPrefix,
  };
  Object.assign(process.env, env);
  const { token } = await userWithToken(container);
  api = await startApi(container, token);
  ({ key: { id: cachedKey } } = await createOrgWithProject(api, token, 'status'));
});

afterAll(async () => {
  Object.assign(process.env, env);
  await api.close();
  await container.close();
});

const cli = runCli;

describe('configs status PUBLIC_KEY', () => {
  it('tells a cached key, a key whose build is in flight and a key whose build failed apart', async () => {
    await cacheConfigs(container, [cachedKey]);
    const cached = JSON.parse((await cli('configs', 'status', cachedKey, '--json')).stdout);
    expect(cached).toMatchObject({ state: 'cached', cached: { rev: expect.stringMatching(/^[0-9a-f]+$/), since: expect.any(String), disabled: false }, claim: null, lastFailure: null });

    // No worker runs here: a Relay's poll claims the key and leaves its build queued.
    const relay = new TestRelay(api.baseUrl, { secret: internal.secret, relayId: internal.relayId });
    await relay.register();
    const inFlight = 'cd'.repeat(16);
    const poll = await relay.projectConfigs({ publicKeys: [inFlight] });
    expect(poll.body.pending).toEqual([inFlight]);
    const building = JSON.parse((await cli('configs', 'status', inFlight, '--json')).stdout);
    expect(building).toMatchObject({ state: 'building', cached: null, claim: { since: expect.any(String), expiresInS: expect.any(Number) }, lastFailure: null });
    expect((await cli('configs', 'status', inFlight)).stdout).toMatch(/: building\n[\s\S]*build claimed since/);

    // The build job exhausts its retries (the worker's failure handler records why).
    const failedKey = 'ef'.repeat(16);
    const deps = workerJobDeps(container, container.redis);
    const job = { id: '1', data: { publicKeys: [failedKey], claimToken: 'x' }, attemptsMade: 3, opts: { attempts: 3 } } as unknown as Job<BuildJobData>;
    await releaseClaimsOfFailedJob(deps, job, new Error('connection terminated'));
    await releaseClaimsOfFailedJob(deps, job, new Error('connection terminated again'));
    const failed = JSON.parse((await cli('configs', 'status', failedKey, '--json')).stdout);
    expect(failed).toMatchObject({ state: 'failed', cached: null, lastFailure: { reason: 'job_failed', message: 'connection terminated again', attempts: 2 } });
    expect((await cli('configs', 'status', failedKey)).stdout).toContain('last build error');

    expect(JSON.parse((await cli('configs', 'status', '0'.repeat(32), '--json')).stdout).state).toBe('missing');
    expect(await cli('configs', 'status', 'nope')).toMatchObject({ code: 1, stderr: 'error: give a public key: 32 lower-case hex characters\n' });
  });
});

describe('status', () => {
  it('reports reachability, queues, outbox, relays and cached configs; --json for scripts', async () => {
    const human = await cli('status');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/PostgreSQL: reachable\nRedis: +reachable\nOutbox: +\d+ rows waiting/);
    expect(human.stdout).toContain('relay-config-build');
    const res = await cli('status', '--json');
    expect(res.code).toBe(0);
    const status = JSON.parse(res.stdout);
    expect(status).toMatchObject({ postgres: { reachable: true }, redis: { reachable: true }, outbox: { depth: expect.any(Number) }, relays: { registered: 1 }, trustedRelays: [] });
    expect(status.cachedConfigs).toBeGreaterThanOrEqual(1);
    expect(Object.keys(status.queues)).toContain('relay-config-build');
    expect(status.queues['relay-config-build'].waiting).toBeGreaterThanOrEqual(1);
  });

  it('exits non-zero when Redis is unreachable, still reporting PostgreSQL', async () => {
    process.env.REDIS_URL = 'redis://127.0.0.1:1/0';
    try {
      const res = await cli('status', '--json');
      expect(res.code).toBe(1);
      expect(res.stderr).toBe('error: Redis unreachable\n');
      expect(JSON.parse(res.stdout)).toMatchObject({ postgres: { reachable: true }, redis: { reachable: false }, queues: null, cachedConfigs: null });
    } finally {
      process.env.REDIS_URL = env.REDIS_URL;
    }
  });
});
