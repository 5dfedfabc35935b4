import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { createWorkerRedis, type RedisClient } from '../../src/caches/redis';
import { computeOptionsOf, computeProjectConfigs } from '../../src/db/compute-configs';
import { Organization, Project, ProjectKey } from '../../src/db/entities';
import { setOption } from '../../src/db/option-store';
import { seed, type SeedResult } from '../../src/db/seed';
import { createBuildProcessor } from '../../src/jobs/build-project-config.processor';
import type { JobDeps } from '../../src/jobs/deps';
import { jobKinds } from '../../src/jobs/registry';
import { workerJobDeps } from '../../src/jobs/worker-runtime';
import type { BuildJobData } from '../../src/queues/build.queue';
import type { TestRelay } from './relay-client';
import { startTestServer, type TestServer } from './server';
import { waitForQueuesToSettle, withoutVolatile } from './settle';
import { storedConfigs } from './stored-configs';
import { prng } from './prng';

/**
 * The seeded race of builds and changes (the stale-write guard's proof), on the Redis that `env()`
 * names: single node (invalidation.test.ts) or a cluster (cluster.test.ts).
 */
export function describeBuildRace(title: string, env: () => Record<string, string> = () => ({})): void {
  describe(title, () => {
    // A build reads the rows, then — as on a slow network or after a GC pause — takes a random
    // while before its write lands; changes land at random moments meanwhile, and their
    // invalidations (fast, in the API's container) find the key uncached and leave it. Without the
    // generation stamps the late write would leave a stale config behind (Sentry admits this race).
    let server: TestServer;
    let relay: TestRelay;
    let seeded: SeedResult;
    let connection: RedisClient;
    let builds: Worker<BuildJobData>;
    const seedValue = 20261125;
    const random = prng(seedValue);

    beforeAll(async () => {
      server = await startTestServer({ INVALIDATION_DELAY_MS: '5', BUILD_CLAIM_TTL_S: '5', ...env() }, { workers: { queues: ['invalidate'] } });
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
      builds = new Worker<BuildJobData>(jobKinds.build.queue, createBuildProcessor(slowWrites), { connection, prefix: server.container.layout.bullPrefix(jobKinds.build.queue), concurrency: 16 });
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
}
