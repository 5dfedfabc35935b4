import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createContainer, type Container } from '../src/container';
import { seed, type SeedResult } from '../src/db/seed';
import { cleanUpPrefix, isolatedEnv, testSettings } from './support/harness';
import { scrape } from '../bench/prometheus';
import { startRole, type RoleProcess } from './support/processes';
import { TestRelay } from './support/relay-client';

/** Environment for a fleet of processes sharing one fresh database and Redis prefix. */
async function fleetEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return { ...(await isolatedEnv()), REDIS_URL: testSettings().redisUrl, INTERNAL_SYSTEM_IPS: '127.0.0.1/32,::1/128', LOG_LEVEL: 'info', ...extra };
}

/** A container on the fleet's database, to seed data as the test's own "admin". */
async function seedFleet(env: Record<string, string>, request: Parameters<typeof seed>[1]): Promise<SeedResult> {
  const container: Container = await createContainer(testSettings(env), 'cli', { logger: pino({ level: 'warn' }) });
  try {
    return await seed(container.orm.em.fork(), request);
  } finally {
    await container.close();
  }
}

describe('two API processes, 20 concurrent clients, the same 500 uncached keys', () => {
  let apis: RoleProcess[] = [];
  let workers: RoleProcess[] = [];
  let seeded: SeedResult;
  let env: Record<string, string>;

  beforeAll(async () => {
    env = await fleetEnv();
    seeded = await seedFleet(env, { orgs: 10, projects: 25, keys: 2, bare: true });
    apis = await Promise.all([startRole('api', env), startRole('api', env)]);
    workers = await Promise.all([startRole('worker', env), startRole('worker', env)]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...apis, ...workers].map((p) => p.stop()));
    await cleanUpPrefix(env.REDIS_KEY_PREFIX);
  });

  it('builds every key exactly once', async () => {
    expect(seeded.publicKeys).toHaveLength(500);
    const clients = Array.from({ length: 20 }, (_, i) => new TestRelay(apis[i % 2].url));
    await Promise.all(clients.map((c) => c.register()));
    const results = await Promise.all(clients.map((c) => c.pollConfigs(seeded.publicKeys)));
    for (const { configs } of results) expect(configs.size).toBe(500);
    const builds = (await Promise.all(workers.map((w) => scrape(w.url, 'relay_projectconfig_builds_total')))).reduce((a, b) => a + b, 0);
    expect(builds).toBe(500);
  });
});

describe('a worker killed in the middle of a job', () => {
  let api: RoleProcess;
  let workers: RoleProcess[] = [];
  let seeded: SeedResult;
  let env: Record<string, string>;
  let killedAt = 0;
  /** The build jobs that were active (held by the victim) when it was killed. */
  let heldJobIds: string[] = [];

  beforeAll(async () => {
    env = await fleetEnv({ WORKER_CONCURRENCY: '1' });
    seeded = await seedFleet(env, { orgs: 2, projects: 10, keys: 5 });
    api = await startRole('api', env);
    workers = await Promise.all([startRole('worker', env), startRole('worker', env)]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([api, ...workers].map((p) => p?.stop()));
    await cleanUpPrefix(env.REDIS_KEY_PREFIX);
  });

  it('still gets every key ready within Relay\'s 30 s: the claims expire and the next poll reschedules', async () => {
    const relay = new TestRelay(api.url);
    await relay.register();
    // Hold the worker's first query on a lock so the job is provably in flight when it dies.
    const blocker = new Client({ connectionString: env.DATABASE_URL });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query('lock table project_key in access exclusive mode');
    const first = await relay.projectConfigs({ publicKeys: seeded.publicKeys });
    expect(first.body.pending).toHaveLength(100);

    let victimPid: number | null = null;
    for (let i = 0; i < 100 && victimPid === null; i++) {
      const { rows } = await blocker.query<{ application_name: string }>(
        "select application_name from pg_stat_activity where wait_event_type = 'Lock' and application_name like 'relaycfg-worker-%'",
      );
      victimPid = rows[0] ? Number(rows[0].application_name.split('-').pop()) : null;
      if (victimPid === null) await new Promise((r) => setTimeout(r, 50));
    }
    expect(victimPid).not.toBeNull();
    const victim = workers.find((w) => w.output().includes(`"pid":${victimPid}`)) ?? null;
    expect(victim, 'the worker holding the job').not.toBeNull();
    const observer = await createContainer(testSettings(env), 'cli', { logger: pino({ level: 'warn' }) });
    try {
      heldJobIds = (await observer.queues.build.getJobs(['active'])).map((job) => job.id!);
    } finally {
      await observer.close();
    }
    await victim!.kill();
    killedAt = Date.now();
    await blocker.query('rollback');
    await blocker.end();

    const started = Date.now();
    const { configs } = await relay.pollConfigs(seeded.publicKeys, { timeoutMs: 30_000 });
    expect(configs.size).toBe(100);
    expect([...configs.values()].every((c) => (c as { disabled: boolean }).disabled === false)).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('runs the job the dead worker held again within 25 s of its death (its 10 s lock lapses, checked every 5 s)', async () => {
    expect(killedAt).toBeGreaterThan(0);
    expect(heldJobIds.length).toBeGreaterThan(0);
    const container = await createContainer(testSettings(env), 'cli', { logger: pino({ level: 'warn' }) });
    try {
      const states = async () => Promise.all(heldJobIds.map((id) => container.queues.build.getJobState(id)));
      let last = await states();
      while (Date.now() - killedAt < 25_000 && !last.every((state) => state === 'completed')) {
        await new Promise((r) => setTimeout(r, 200));
        last = await states();
      }
      expect(last, 'states of the jobs the dead worker held, 25 s after the kill').toEqual(heldJobIds.map(() => 'completed'));
      const rerun = await Promise.all(heldJobIds.map((id) => container.queues.build.getJob(id)));
      expect(rerun.every((job) => (job?.stalledCounter ?? 0) > 0), 'each was found stalled and run again').toBe(true);
    } finally {
      await container.close();
    }
  });
});
