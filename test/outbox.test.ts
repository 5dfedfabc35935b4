import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createContainer, type Container } from '../src/container';
import { Organization, Project } from '../src/db/entities';
import { setOption } from '../src/db/option-store';
import { createOutboxDrainer, writeOutbox, type OutboxRow } from '../src/db/outbox';
import { seed, type SeedResult } from '../src/db/seed';
import { createInvalidationScheduler } from '../src/queues/invalidate.queue';
import { verifyCachedConfigs } from '../src/services/config-drift';
import { cacheConfigs, cachedConfig } from './support/admin';
import { testContainer, testSettings } from './support/harness';
import { waitForQueuesToSettle } from './support/settle';
import { runCli } from './support/cli';

/**
 * The transactional outbox: rows are written in the transaction of the change and published by
 * drainers. `down` shares the database with `up` but cannot reach Redis (an API process during a
 * Redis outage): what it commits waits in the outbox.
 */
let up: Container;
let down: Container;
let seeded: SeedResult;

const rows = async (): Promise<{ id: string; kind: string; payload: any }[]> =>
  (await up.orm.em.getConnection().execute('select "id", "kind", "payload" from "config_outbox" order by "id"')) as any;
const clearOutbox = () => up.orm.em.getConnection().execute('delete from "config_outbox"');
const orgOf = (em: ReturnType<Container['orm']['em']['fork']>, n: number) => em.findOneOrFail(Organization, seeded.organizations[n].id);

beforeAll(async () => {
  up = await testContainer({ INVALIDATION_DELAY_MS: '0' });
  const settings = testSettings({ DATABASE_URL: up.settings.databaseUrl, REDIS_URL: 'redis://127.0.0.1:1/0', REDIS_KEY_PREFIX: up.settings.redisKeyPrefix, INVALIDATION_DELAY_MS: '0' });
  down = await createContainer(settings, 'api', { logger: pino({ level: 'silent' }) });
  seeded = await seed(up.orm.em.fork(), { orgs: 3, projects: 2, keys: 1 });
});
afterAll(async () => {
  await down.close();
  await up.close();
});

describe('outbox rows', () => {
  it('are written with the change, for a plain flush and an explicit transaction alike', async () => {
    await clearOutbox();
    const em = down.orm.em.fork();
    await setOption(em, { scope: 'organization', entity: await orgOf(em, 0) }, 'sentry:safe_fields', ['plain']);
    await em.flush();
    await down.orm.em.fork().transactional(async (tx) => {
      await setOption(tx, { scope: 'organization', entity: await orgOf(tx, 1) }, 'sentry:safe_fields', ['explicit']);
    });
    const written = await rows();
    expect(written.map((r) => [r.kind, r.payload.change.scope])).toEqual([
      ['invalidation', { scope: 'organization', organizationId: seeded.organizations[0].id }],
      ['invalidation', { scope: 'organization', organizationId: seeded.organizations[1].id }],
    ]);
    expect(written[0].payload.change.trigger).toMatch(/^organization-option\.(create|update):sentry:safe_fields$/);
  });

  it('are not left by a rollback, by a rolled-back savepoint, or by a write that changed nothing', async () => {
    await clearOutbox();
    await expect(
      down.orm.em.fork().transactional(async (tx) => {
        await setOption(tx, { scope: 'organization', entity: await orgOf(tx, 0) }, 'sentry:safe_fields', ['rolled-back']);
        await tx.flush();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await down.orm.em.fork().transactional(async (outer) => {
      await expect(
        outer.transactional(async (inner) => {
          await setOption(inner, { scope: 'organization', entity: await orgOf(inner, 2) }, 'sentry:sensitive_fields', ['savepoint']);
          await inner.flush();
          throw new Error('inner abort');
        }),
      ).rejects.toThrow('inner abort');
      const project = await outer.findOneOrFail(Project, seeded.organizations[1].projects[0].id);
      await setOption(outer, { scope: 'project', entity: project }, 'sentry:scrub_ip_address', true);
    });
    const em = down.orm.em.fork();
    expect(await setOption(em, { scope: 'organization', entity: await orgOf(em, 1) }, 'sentry:safe_fields', ['explicit'])).toBe(false);
    await em.flush();
    const project = await em.findOneOrFail(Project, seeded.organizations[2].projects[0].id);
    project.name = 'Renamed, which no config shows';
    await em.flush();
    const written = await rows();
    expect(written.map((r) => r.payload.change.scope)).toEqual([{ scope: 'project', organizationId: seeded.organizations[1].id, projectId: seeded.organizations[1].projects[0].id }]);
  });

  it('are published and deleted by a drainer that reaches Redis, which then recomputes the cached configs', async () => {
    await clearOutbox();
    const key = seeded.organizations[0].projects[0].publicKeys[0];
    await cacheConfigs(up, [key]);
    await down.orm.em.fork().transactional(async (tx) => {
      await setOption(tx, { scope: 'organization', entity: await orgOf(tx, 0) }, 'sentry:safe_fields', ['drained']);
    });
    expect(await rows()).toHaveLength(1);
    const verify = () => verifyCachedConfigs(up, { organizationSlug: seeded.organizations[0].slug });
    const stale = await verify();
    expect(stale.drift.map((d) => d.publicKey)).toEqual([key]);
    expect(stale.drift[0].differences[0].path).toMatch(/^config\.datascrubbingSettings\.excludeFields/);

    const { startWorkers } = await import('../src/jobs/worker-runtime');
    const workers = startWorkers(up, { queues: ['invalidate', 'build'] });
    try {
      await expect.poll(async () => (await rows()).length, { timeout: 5000 }).toBe(0);
      await waitForQueuesToSettle(up);
      expect((await cachedConfig(up, key)).config.datascrubbingSettings.excludeFields).toContain('drained');
      expect((await verify()).drift).toEqual([]);
    } finally {
      await workers.close();
    }
  });
});

describe('drainers', () => {
  /** Rows written through `down`, which cannot publish them. */
  async function writeRows(entries: Parameters<typeof writeOutbox>[1]): Promise<void> {
    await down.orm.em.fork().transactional((tx) => writeOutbox(tx, entries));
  }

  it('never work on the same row at once, and publish a relay’s changes in commit order', async () => {
    await clearOutbox();
    const relays = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
    const entries = [];
    for (let i = 0; i < 30; i += 1) {
      entries.push({ kind: 'invalidation' as const, change: { scope: { scope: 'organization' as const, organizationId: 1000 + i }, trigger: 'test' } });
      entries.push({ kind: 'relay-key' as const, relayId: relays[i % 2], publicKey: i % 4 < 2 ? `key-${i}` : null });
    }
    await writeRows(entries);
    const inFlight = new Set<string>();
    const published: OutboxRow[] = [];
    let overlaps = 0;
    const publish = async (row: OutboxRow) => {
      if (inFlight.has(row.id)) overlaps += 1;
      inFlight.add(row.id);
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      published.push(row);
      inFlight.delete(row.id);
    };
    const drainers = [1, 2, 3].map(() => createOutboxDrainer({ orm: up.orm, publish, logger: pino({ level: 'silent' }) }, { leaseMs: 15_000, batchSize: 7, pollMs: 10, maxBackoffMs: 50 }));
    for (const d of drainers) d.start();
    await expect.poll(async () => (await rows()).length, { timeout: 10_000 }).toBe(0);
    await Promise.all(drainers.map((d) => d.stop()));
    expect(overlaps).toBe(0);
    expect(published).toHaveLength(60);
    expect(new Set(published.map((r) => r.id)).size).toBe(60);
    for (const relayId of relays) {
      const ids = published.filter((r) => r.entry.kind === 'relay-key' && r.entry.relayId === relayId).map((r) => BigInt(r.id));
      expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    }
  });

  it('after a commit, wait (briefly) for a row another drainer leased first, so the change is published when the caller answers', async () => {
    await clearOutbox();
    await writeRows([{ kind: 'relay-key', relayId: '33333333-3333-4333-8333-333333333333', publicKey: 'key-raced' }]);
    const [{ id }] = await rows();
    let releaseOther!: () => void;
    const otherMayFinish = new Promise<void>((resolve) => (releaseOther = resolve));
    let otherFinished = false;
    const other = createOutboxDrainer({ orm: up.orm, publish: async () => { await otherMayFinish; otherFinished = true; }, logger: pino({ level: 'silent' }) });
    const fast = createOutboxDrainer({ orm: up.orm, publish: () => Promise.reject(new Error('the other drainer holds this row')), logger: pino({ level: 'silent' }) });
    // The worker's drainer claims the row in the moment after the commit, before the fast path.
    const otherPass = other.drainOnce();
    await expect.poll(async () => (await up.orm.em.getConnection().execute('select "lease_token" from "config_outbox" where "id" = ?', [id]))[0]?.lease_token ?? null).not.toBeNull();
    let fastDone = false;
    const fastPath = fast.publishNow([id]).then(() => (fastDone = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(fastDone, 'the fast path answered while the row was still being published').toBe(false);
    releaseOther();
    await fastPath;
    expect(otherFinished).toBe(true);
    expect(await rows()).toEqual([]);
    expect((await otherPass).published).toBe(1);
  });

  it('keep a row whose publish failed and retry it with backoff until it succeeds; the backlog is logged and measured', async () => {
    await clearOutbox();
    await writeRows([{ kind: 'invalidation', change: { scope: { scope: 'organization', organizationId: 4242 }, trigger: 'test' } }]);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line).msg) });
    let attempts = 0;
    const drainer = createOutboxDrainer(
      {
        orm: up.orm,
        logger,
        publish() {
          attempts += 1;
          return attempts <= 3 ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve();
        },
      },
      { leaseMs: 15_000, batchSize: 10, pollMs: 10, maxBackoffMs: 100 },
    );
    expect(await drainer.drainOnce()).toMatchObject({ published: 0, failed: 1 });
    const metrics = await up.metrics.registry.getSingleMetricAsString('relay_outbox_rows');
    expect(metrics).toMatch(/relay_outbox_rows\{role="all"\} 1/);
    const age = await up.metrics.registry.getSingleMetricAsString('relay_outbox_oldest_age_seconds');
    expect(Number(/ ([\d.e-]+)$/m.exec(age)![1])).toBeGreaterThan(0);
    // A backlog does not make the process unready: /readyz checks PostgreSQL and Redis only.
    expect(await up.readiness()).toEqual({ postgres: true, redis: true });
    drainer.start();
    await expect.poll(async () => (await rows()).length, { timeout: 5000 }).toBe(0);
    await drainer.stop();
    expect(attempts).toBe(4);
    expect(lines).toContain('outbox backlog: committed changes wait in the outbox until they can be published');
    expect(lines).toContain('outbox backlog drained');
  });
});

describe('publishing an invalidation is one step', () => {
  it('a failure between marking the scope pending and enqueueing its job is repaired by publishing the row again', async () => {
    let failNext = true;
    const queue = {
      add: vi.fn(async (...args: Parameters<Container['queues']['invalidate']['add']>) => {
        if (failNext) {
          failNext = false;
          throw new Error('Connection is closed.');
        }
        return up.queues.invalidate.add(...args);
      }),
    };
    const scheduler = createInvalidationScheduler(queue, up.generations, up.configCache, 60_000);
    const change = { scope: { scope: 'project' as const, organizationId: 77, projectId: 7700 }, trigger: 'test' };
    await expect(scheduler.publish(change, 'row-token-1')).rejects.toThrow('Connection is closed.');
    // Another change of the scope trusts the pending marker, as it should while a job is due…
    expect(await scheduler.publish(change, 'row-token-2')).toBe(false);
    // …and the failed row, published again, sees its own marker and enqueues that job.
    expect(await scheduler.publish(change, 'row-token-1')).toBe(true);
    const jobs = await up.queues.invalidate.getJobs(['delayed', 'waiting']);
    expect(jobs.filter((j) => j.data.scope === 'project' && j.data.projectId === 7700)).toHaveLength(1);
    // Publishing it once more is harmless: at most another invalidation of the same scope.
    await expect(scheduler.publish(change, 'row-token-1')).resolves.toBeTypeOf('boolean');
  });
});

describe('configs verify', () => {
  async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    Object.assign(process.env, { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: up.settings.databaseUrl, REDIS_URL: up.settings.redisUrl, REDIS_KEY_PREFIX: up.settings.redisKeyPrefix });
    return runCli(...argv);
  }

  it('prints the drift of a scope and exits 1; exits 0 when every cached config is current', async () => {
    const org = seeded.organizations[2];
    const key = org.projects[1].publicKeys[0];
    await cacheConfigs(up, [key]);
    const clean = await cli('configs', 'verify', '--project', `${org.slug}/${org.projects[1].slug}`);
    expect(clean).toMatchObject({ code: 0, stdout: '1 of 1 keys cached; 0 differ\n' });
    const em = down.orm.em.fork();
    await setOption(em, { scope: 'project', entity: await em.findOneOrFail(Project, org.projects[1].id) }, 'sentry:blacklisted_ips', ['10.9.8.0/24']);
    await em.flush();
    const drifted = await cli('configs', 'verify', '--org', org.slug);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toMatch(new RegExp(`^${key} config\\.filterSettings.*10\\.9\\.8\\.0/24`, 'm'));
    expect(drifted.stderr).toBe('error: 1 cached config(s) differ from a fresh computation\n');
    expect((await cli('configs', 'verify', '--all')).code).toBe(1);
    expect((await cli('configs', 'verify')).stderr).toBe('error: give exactly one of --org SLUG, --project ORG/SLUG, --all\n');
    expect((await cli('configs', 'verify', '--org', 'nope')).stderr).toBe('error: Organization `nope` does not exist\n');
    expect((await cli('configs', 'verify', '--project', 'nope')).stderr).toBe('error: --project takes ORG/SLUG, e.g. acme/web\n');
  });
});

/**
 * Writes that bypass the unit of work (native*, upsert, query builders, raw SQL) are invisible to
 * the change subscriber. On the tables configs or relay keys are made from they must go through
 * the outbox explicitly; every such call in src/ is listed here with how it does.
 */
describe('writes that bypass the unit of work', () => {
  const CONFIG_ENTITIES = ['Organization', 'OrganizationOption', 'Project', 'ProjectOption', 'ProjectTemplate', 'ProjectTemplateOption', 'ProjectKey', 'Relay'];
  const ALLOWED: Record<string, string> = {
    'src/services/relays.ts:createQueryBuilder(Relay)': 'registration: writes its relay-key outbox row in the same transaction',
    'src/services/relays.ts:nativeDelete(Relay)': 'prune and removal: write relay-key outbox rows in the same transaction',
    'src/db/config-loader.ts:createQueryBuilder(entity': 'a read (option rows of a batch)',
    'src/db/config-loader.ts:createQueryBuilder(ProjectKey)': 'a read (the key rows of a batch, as plain rows)',
  };

  function sourceFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
    });
  }

  it('touch config-relevant entities only where the allow-list says how they reach the outbox', () => {
    const root = path.resolve(__dirname, '..');
    const found: string[] = [];
    const call = /\.(nativeUpdate|nativeDelete|upsert|upsertMany|insert|insertMany|createQueryBuilder|qb)\(\s*([A-Za-z_]+)/g;
    for (const file of sourceFiles(path.join(root, 'src'))) {
      const text = readFileSync(file, 'utf8');
      const rel = path.relative(root, file);
      for (const m of text.matchAll(call)) {
        const entity = m[2];
        if (CONFIG_ENTITIES.includes(entity) || !/^[A-Z]/.test(entity)) found.push(`${rel}:${m[1]}(${entity}`);
      }
    }
    const unexplained = [...new Set(found.map((f) => (f.endsWith('(entity') ? f : `${f})`)))].filter((f) => !(f in ALLOWED));
    expect(unexplained).toEqual([]);
  });
});
