import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Organization } from '../src/db/entities';
import { setOption } from '../src/db/option-store';
import { seed, type SeedResult } from '../src/db/seed';
import { isolatedEnv, testContainer } from './support/harness';
import { startRole, type RoleProcess } from './support/processes';
import { describeBuildRace } from './support/race';
import { startRedisCluster, type TestRedisCluster } from './support/redis-cluster';
import { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { waitForQueuesToSettle } from './support/settle';

/**
 * The whole service on a real three-master Redis Cluster (started here on free loopback ports,
 * `cluster-require-full-coverage no`): the same guarantees as on one Redis.
 */
let cluster: TestRedisCluster;
const clusterEnv = () => ({ REDIS_CLUSTER_NODES: cluster.nodes });

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

/** The builds counted by these servers' metrics (one per key built). */
async function builds(...servers: TestServer[]): Promise<number> {
  let total = 0;
  for (const server of servers) for (const v of (await server.container.metrics.projectConfigBuilds.get()).values) if (v.labels.trigger === 'build') total += v.value;
  return total;
}

describe('on a Redis Cluster', () => {
  let a: TestServer;
  let b: TestServer;
  let relay: TestRelay;
  let relayOnB: TestRelay;
  let seeded: SeedResult;

  beforeAll(async () => {
    const template = new TestRelay('http://placeholder');
    // Two API processes' containers on one database, one key prefix and one cluster.
    const env = await isolatedEnv({ ...clusterEnv(), RELAY_WHITELIST_PK: template.publicKey, INVALIDATION_DELAY_MS: '20', LOG_LEVEL: process.env.CLUSTER_TEST_LOG ?? 'warn' });
    a = await startTestServer(env);
    b = await startTestServer(env);
    relay = new TestRelay(a.url, { secret: template.secret, relayId: template.relayId });
    await relay.register();
    relayOnB = new TestRelay(b.url, { secret: template.secret, relayId: template.relayId });
    seeded = await seed(a.container.orm.em.fork(), { orgs: 6, projects: 2, keys: 5 });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('registers a relay and answers v3 polls end to end; exactly one build per key with two APIs and concurrent clients', async () => {
    const keys = seeded.publicKeys;
    const before = await builds(a, b);
    const clients = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? relay : relayOnB));
    const results = await Promise.all(clients.map((client) => client.pollConfigs(keys, { intervalMs: 50 })));
    for (const result of results) expect(result.configs.size).toBe(keys.length);
    await waitForQueuesToSettle(a.container, { quietMs: 300 });
    expect((await builds(a, b)) - before).toBe(keys.length);
  });

  it('spreads the configs of a fill over all three masters', async () => {
    const perNode = new Map<number, number>();
    for (const key of seeded.publicKeys) {
      const port = await cluster.portOfKey(a.container.layout.config(key));
      perNode.set(port, (perNode.get(port) ?? 0) + 1);
    }
    expect([...perNode.keys()].sort()).toEqual([...cluster.ports].sort());
    for (const count of perNode.values()) expect(count).toBeGreaterThan(0);
  });

  it('stores what v3 serves where a processing Relay reads it: two GETs, JSON', async () => {
    const key = seeded.publicKeys[3]!;
    const served = (await relay.projectConfigs({ publicKeys: [key], fullConfig: true })).body.configs![key] as { rev: string };
    const [config, rev] = [await a.container.redis.get(a.container.layout.config(key)), await a.container.redis.get(a.container.layout.rev(key))];
    expect(JSON.parse(config!)).toEqual(served);
    expect(rev).toBe(served.rev);
    expect((await relay.projectConfigs({ publicKeys: [key], revisions: [served.rev] })).body.unchanged).toEqual([key]);
  });

  it("carries an operator's change to every cached config of its organization", async () => {
    const org = seeded.organizations[1]!;
    const keys = org.projects.flatMap((p) => p.publicKeys);
    await a.container.orm.em.fork().transactional(async (em) => {
      await setOption(em, { scope: 'organization', entity: await em.findOneOrFail(Organization, org.id) }, 'sentry:safe_fields', ['cluster-field']);
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const stored = await Promise.all(keys.map(async (k) => JSON.parse((await a.container.redis.get(a.container.layout.config(k)))!) as { config: { piiConfig?: unknown; datascrubbingSettings?: { safeFields?: string[] } } }));
      if (stored.every((s) => JSON.stringify(s).includes('cluster-field'))) break;
      if (Date.now() > deadline) throw new Error('the change did not reach every cached config');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});

// The stale-write guard's proof on the cluster: builds whose writes land late, changes meanwhile.
describeBuildRace('on a Redis Cluster: builds racing changes (randomised, seeded)', clusterEnv);

describe('on a Redis Cluster: API and workers as separate processes', () => {
  let env: Record<string, string>;
  let api: RoleProcess;
  let worker: RoleProcess | undefined;
  let relay: TestRelay;
  let seeded: SeedResult;

  beforeAll(async () => {
    const fresh = new TestRelay('http://placeholder');
    env = { ...(await isolatedEnv()), ...clusterEnv(), RELAY_WHITELIST_PK: fresh.publicKey, BUILD_CLAIM_TTL_S: '2' };
    const seeder = await testContainer(env, 'cli');
    seeded = await seed(seeder.orm.em.fork(), { orgs: 4, projects: 10, keys: 2 });
    await seeder.close();
    [api, worker] = await Promise.all([startRole('api', env), startRole('worker', env)]);
    relay = new TestRelay(api.url, { secret: fresh.secret, relayId: fresh.relayId });
  }, 90_000);
  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    // Its close() deletes the fleet's keys on every master.
    await (await testContainer(env, 'cli')).close();
  });

  it("registers and serves every key; a worker SIGKILLed mid-fill strands no key beyond Relay's 30 s", async () => {
    await relay.register();
    const first = await relay.projectConfigs({ publicKeys: seeded.publicKeys });
    expect(first.status).toBe(200);
    await worker!.kill();
    worker = await startRole('worker', env);
    const { configs } = await relay.pollConfigs(seeded.publicKeys, { timeoutMs: 30_000 });
    expect(configs.size).toBe(seeded.publicKeys.length);
  }, 60_000);
});

describe('on a Redis Cluster with one master stopped', () => {
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;

  beforeAll(async () => {
    server = await startTestServer({ ...clusterEnv(), INVALIDATION_DELAY_MS: '20' });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 3, projects: 2, keys: 4 });
    await relay.pollConfigs(seeded.publicKeys);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('serves the keys of the other masters, answers 503 or pending (never 500) for the stopped one, and recovers after its restart', async () => {
    const { layout } = server.container;
    // A master without the queues' slot (scheduling needs it; the relay's key is cached in process).
    const queues = await cluster.portOfKey(`${layout.bullPrefix}:x`);
    const victim = cluster.ports.findIndex((p) => p !== queues);
    const portOf = new Map(await Promise.all(seeded.publicKeys.map(async (k) => [k, await cluster.portOfKey(layout.config(k))] as const)));
    const lost = seeded.publicKeys.filter((k) => portOf.get(k) === cluster.ports[victim]);
    const kept = seeded.publicKeys.filter((k) => portOf.get(k) !== cluster.ports[victim]);
    expect(lost.length).toBeGreaterThan(0);
    expect(kept.length).toBeGreaterThan(0);

    await cluster.stop(victim);
    try {
      const deadline = Date.now() + 6000;
      while (Date.now() < deadline) {
        const started = Date.now();
        const onKept = await relay.projectConfigs({ publicKeys: [kept[0]!] });
        expect(onKept.status).toBe(200);
        expect(Object.keys(onKept.body.configs ?? {})).toEqual([kept[0]]);
        const onLost = await relay.projectConfigs({ publicKeys: [lost[0]!] });
        expect([200, 503]).toContain(onLost.status);
        if (onLost.status === 200) expect(onLost.body.pending).toEqual([lost[0]]);
        expect(Date.now() - started).toBeLessThan(3000);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await cluster.start(victim);
    }
    // The restarted master is empty (no persistence here): its keys are built again on demand.
    const { configs } = await relay.pollConfigs(seeded.publicKeys, { timeoutMs: 20_000 });
    expect(configs.size).toBe(seeded.publicKeys.length);
  }, 60_000);
});
