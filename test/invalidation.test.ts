import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeOptionsOf, computeProjectConfigs } from '../src/db/compute-configs';
import { Organization, Project, ProjectKey, ProjectTemplate } from '../src/db/entities';
import { setOption } from '../src/db/option-store';
import { seed, type SeedResult } from '../src/db/seed';
import { createWorkerRedis, type Redis } from '../src/caches/redis';
import { Worker } from 'bullmq';
import { createBuildProcessor } from '../src/jobs/build-project-config.processor';
import type { JobDeps } from '../src/jobs/deps';
import { workerJobDeps } from '../src/jobs/worker-runtime';
import { jobKinds } from '../src/jobs/registry';
import type { BuildJobData } from '../src/queues/build.queue';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { waitForQueuesToSettle, withoutVolatile } from './support/settle';
import { storedConfigs } from './support/stored-configs';

describe('invalidation after commit', () => {
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;
  const scheduled = async () => (await server.container.metrics.invalidationsScheduled.get()).values.reduce((sum, v) => sum + v.value, 0);
  const cachedConfig = async (publicKey: string) => {
    const text = (await storedConfigs(server.container, [publicKey])).get(publicKey);
    return text === undefined ? undefined : (JSON.parse(text) as { rev?: string; disabled: boolean; config?: Record<string, unknown> });
  };

  beforeAll(async () => {
    server = await startTestServer({ INVALIDATION_DELAY_MS: '50' });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 3, projects: 2, keys: 2 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('recomputes the cached configs of the changed organization only; uncached keys stay uncached', async () => {
    const [org, other] = seeded.organizations as [SeedResult['organizations'][number], SeedResult['organizations'][number]];
    const cached = [org.projects[0].publicKeys[0], org.projects[1].publicKeys[0]];
    const uncached = org.projects[0].publicKeys[1];
    const otherKey = other.projects[0].publicKeys[0];
    await relay.pollConfigs([...cached, otherKey]);
    const otherRev = (await cachedConfig(otherKey))!.rev;

    await server.container.orm.em.fork().transactional(async (em) => {
      await setOption(em, { scope: 'organization', entity: await em.findOneOrFail(Organization, org.id) }, 'sentry:safe_fields', ['changed']);
    });
    await waitForQueuesToSettle(server.container);
    for (const key of cached) expect((await cachedConfig(key))!.config!.datascrubbingSettings).toMatchObject({ excludeFields: ['changed', 'traceId'] });
    expect(await cachedConfig(uncached)).toBeUndefined();
    expect((await cachedConfig(otherKey))!.rev).toBe(otherRev);
  });

  it('schedules nothing and changes no cached config when the transaction rolls back', async () => {
    const org = seeded.organizations[1];
    const key = org.projects[0].publicKeys[0];
    await relay.pollConfigs([key]);
    const before = await cachedConfig(key);
    const count = await scheduled();
    await expect(
      server.container.orm.em.fork().transactional(async (em) => {
        await setOption(em, { scope: 'organization', entity: await em.findOneOrFail(Organization, org.id) }, 'sentry:safe_fields', ['rolled-back']);
        await em.flush();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await new Promise((r) => setTimeout(r, 300));
    expect(await scheduled()).toBe(count);
    expect(await cachedConfig(key)).toEqual(before);
  });

  it('schedules nothing when an option is written with its current value', async () => {
    const org = seeded.organizations[2];
    const count = await scheduled();
    const written = await server.container.orm.em.fork().transactional(async (em) =>
      setOption(em, { scope: 'organization', entity: await em.findOneOrFail(Organization, org.id) }, 'sentry:event_retention', 90),
    );
    expect(written).toBe(false);
    expect(await scheduled()).toBe(count);
  });

  it('schedules nothing for changes that no config shows (project name, platform)', async () => {
    const count = await scheduled();
    const em = server.container.orm.em.fork();
    const project = await em.findOneOrFail(Project, seeded.organizations[2].projects[0].id);
    project.name = 'Renamed';
    project.platform = 'python';
    await em.flush();
    expect(await scheduled()).toBe(count);
  });

  it('takes a deleted key out of use at once, before the coalescing delay', async () => {
    const key = seeded.organizations[2].projects[1].publicKeys[1];
    await relay.pollConfigs([key]);
    const em = server.container.orm.em.fork();
    em.remove(await em.findOneOrFail(ProjectKey, { publicKey: key }));
    await em.flush();
    expect(await cachedConfig(key)).toEqual({ disabled: true });
  });

  it('recomputes the projects that use a template when a template option changes', async () => {
    const org = seeded.organizations[2];
    const withTemplate = org.projects[0].publicKeys[0]; // even projects use the seeded template
    await relay.pollConfigs([withTemplate]);
    expect((await cachedConfig(withTemplate))!.config!.filterSettings).toHaveProperty('browserExtensions');
    await server.container.orm.em.fork().transactional(async (em) => {
      const template = await em.findOneOrFail(ProjectTemplate, { organization: org.id });
      await setOption(em, { scope: 'template', entity: template }, 'filters:browser-extensions', '0');
    });
    await waitForQueuesToSettle(server.container);
    expect((await cachedConfig(withTemplate))!.config!.filterSettings).not.toHaveProperty('browserExtensions');
  });

  it('schedules once for the outermost commit of nested transactions, and not at all when the outer one rolls back', async () => {
    const org = seeded.organizations[0];
    const count = await scheduled();
    await expect(
      server.container.orm.em.fork().transactional(async (outer) => {
        await outer.transactional(async (inner) => {
          await setOption(inner, { scope: 'organization', entity: await inner.findOneOrFail(Organization, org.id) }, 'sentry:sensitive_fields', ['nested']);
        });
        throw new Error('outer abort');
      }),
    ).rejects.toThrow('outer abort');
    await new Promise((r) => setTimeout(r, 200));
    expect(await scheduled()).toBe(count);
    await server.container.orm.em.fork().transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        await setOption(inner, { scope: 'organization', entity: await inner.findOneOrFail(Organization, org.id) }, 'sentry:sensitive_fields', ['nested']);
      });
    });
    await expect.poll(scheduled, { timeout: 5000 }).toBe(count + 1);
  });
});

/** A small seeded PRNG (mulberry32): the same seed replays the same interleaving. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('builds racing changes (randomised, seeded)', () => {
  // A build reads the rows, then — as on a slow network or after a GC pause — takes a random
  // while before its write lands; changes land at random moments meanwhile, and their
  // invalidations (fast, in the API's container) find the key uncached and leave it. Without the
  // generation stamps the late write would leave a stale config behind (Sentry admits this race).
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;
  let connection: Redis;
  let builds: Worker<BuildJobData>;
  const seedValue = 20261125;
  const random = prng(seedValue);

  beforeAll(async () => {
    server = await startTestServer({ INVALIDATION_DELAY_MS: '5', BUILD_CLAIM_TTL_S: '5' }, { workers: { queues: ['invalidate'] } });
    relay = await server.internalRelay();
    // One key per organization, so each round is an independent trial no later change repairs.
    seeded = await seed(server.container.orm.em.fork(), { orgs: 60, projects: 1, keys: 1 });
    connection = createWorkerRedis(server.container.settings, 'race-test-builds');
    const deps = workerJobDeps(server.container, connection);
    const cache = deps.cache;
    const slowWrites: JobDeps = {
      ...deps,
      cache: {
        ...cache,
        async writeIfCurrent(...args) {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 150)));
          return cache.writeIfCurrent(...args);
        },
      },
    };
    builds = new Worker<BuildJobData>(jobKinds.build.queue, createBuildProcessor(slowWrites), { connection, prefix: server.container.layout.bullPrefix, concurrency: 16 });
  });
  afterAll(async () => {
    await builds.close();
    connection.disconnect();
    await server.close();
  });

  it('leaves every cached config equal to a fresh computation once things settle', async () => {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
    const keys = seeded.publicKeys;
    const projectOf = new Map(seeded.organizations.flatMap((o) => o.projects.flatMap((p) => p.publicKeys.map((k) => [k, { org: o.id, project: p.id }] as const))));

    const changes = [
      (key: string) =>
        server.container.orm.em.fork().transactional(async (em) => {
          const org = await em.findOneOrFail(Organization, projectOf.get(key)!.org);
          await setOption(em, { scope: 'organization', entity: org }, 'sentry:safe_fields', [`f${Math.floor(random() * 1e6)}`]);
        }),
      (key: string) =>
        server.container.orm.em.fork().transactional(async (em) => {
          const project = await em.findOneOrFail(Project, projectOf.get(key)!.project);
          await setOption(em, { scope: 'project', entity: project }, 'sentry:origins', [`https://${Math.floor(random() * 1e6)}.example.com`]);
        }),
      (key: string) =>
        server.container.orm.em.fork().transactional(async (em) => {
          const row = await em.findOneOrFail(ProjectKey, { publicKey: key });
          row.rateLimitCount = Math.floor(random() * 1e6) + 1;
          row.rateLimitWindow = 60;
        }),
      (key: string) =>
        server.container.orm.em.fork().transactional(async (em) => {
          const project = await em.findOneOrFail(Project, projectOf.get(key)!.project);
          project.slug = `p-${Math.floor(random() * 1e6)}`;
        }),
    ];

    // In waves of three keys: Relay asks for a key uncached (its build starts) and a change to it
    // lands at a random moment of that build; some keys are asked for again meanwhile.
    for (let wave = 0; wave < keys.length; wave += 3) {
      await Promise.all(
        keys.slice(wave, wave + 3).map(async (target) => {
          const delay = Math.floor(random() * 100);
          const change = pick(changes);
          await relay.projectConfigs({ publicKeys: [target] });
          await new Promise((r) => setTimeout(r, delay));
          await change(target);
          if (random() < 0.3) await relay.projectConfigs({ publicKeys: [target] });
        }),
      );
    }
    // Fill whatever is missing, as Relay would, then let every build and invalidation finish.
    await waitForQueuesToSettle(server.container, { timeoutMs: 30_000, quietMs: 500 });
    await relay.pollConfigs(keys);
    await waitForQueuesToSettle(server.container, { timeoutMs: 30_000, quietMs: 500 });

    const cached = await storedConfigs(server.container, keys);
    expect(cached.size).toBe(keys.length);
    const { configs: fresh } = await computeProjectConfigs(server.container.orm.em.fork(), keys, computeOptionsOf(server.container.settings));
    const stale = fresh.filter((c) => JSON.stringify(withoutVolatile(JSON.parse(cached.get(c.publicKey)!))) !== JSON.stringify(withoutVolatile(c.config)));
    expect(stale.map((m) => m.publicKey), `seed ${seedValue}`).toEqual([]);
  });
});
