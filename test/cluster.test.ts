import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigGenerations } from '../src/caches/config-generations';
import { redisLayout } from '../src/caches/layout';
import { createRedisProjectConfigCache, DISABLED_JSON, WRITE_CHUNK_ENTRIES, type ConfigWriteEntry } from '../src/caches/project-config-cache';
import { clusterGetMany, createRequestPathRedis, deleteKeysWithPrefix, isCluster, isRedisUnavailable, scanNodes, type RedisClient } from '../src/caches/redis';
import { JOB_KIND_NAMES, jobKinds } from '../src/jobs/registry';
import { Organization } from '../src/db/entities';
import { setOption } from '../src/db/option-store';
import { seed, type SeedResult } from '../src/db/seed';
import { isolatedEnv, testContainer, testSettings, uniquePrefix } from './support/harness';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT, startRole, type RoleProcess } from './support/processes';
import { describeBuildRace } from './support/race';
import { startRedisCluster, type TestRedisCluster } from './support/redis-cluster';
import { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { waitForQueuesToSettle } from './support/settle';

/**
 * The whole service on a real three-master Redis Cluster (started here on free loopback ports,
 * `cluster-require-full-coverage no`): the same guarantees as on one Redis.
 */
const run = promisify(execFile);
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

describe('the caches on a Redis Cluster', () => {
  let redis: RedisClient;
  const prefix = uniquePrefix();
  const layout = redisLayout(prefix, { cluster: true });
  const key = (n: number) => n.toString(16).padStart(32, '0');
  const entry = (publicKey: string, rev: string | null = 'r'): ConfigWriteEntry => ({ publicKey, json: rev === null ? DISABLED_JSON : `{"for":"${publicKey}","rev":"${rev}"}`, rev, organizationId: 1, projectId: 10 });
  const reads = async (publicKey: string) => [await redis.get(layout.config(publicKey)), await redis.get(layout.rev(publicKey))];

  beforeAll(async () => {
    redis = createRequestPathRedis(testSettings(clusterEnv()), 'cluster-caches-test');
    await new Promise((resolve) => redis.once('ready', resolve));
  });
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    for (const port of cluster.ports) {
      const { Redis } = await import('ioredis');
      const node = new Redis(port, '127.0.0.1');
      expect(await node.keys(`*${prefix}*`)).toEqual([]);
      node.disconnect();
    }
    redis.disconnect();
  });

  it('claims, writes and answers keys of many slots; refuses a write computed from an older generation', async () => {
    const cache = createRedisProjectConfigCache(redis, layout, { claimTtlS: 10 });
    // More keys than one write chunk, so the write spans chunks here too.
    const keys = Array.from({ length: WRITE_CHUNK_ENTRIES + 6 }, (_, i) => key(i + 1));
    expect((await cache.lookupOrClaim(keys, keys.map(() => null), 'job')).every((r) => r.status === 'claimed')).toBe(true);
    expect((await cache.lookupOrClaim(keys, keys.map(() => null), 'other')).every((r) => r.status === 'in-flight')).toBe(true);
    const g = await cache.generation();
    expect((await cache.writeIfCurrent(keys.map((k) => entry(k, `r${k}`)), g, 60, 'job')).written).toEqual(keys);
    for (const k of [keys[0], keys.at(-1)!]) expect(await reads(k)).toEqual([entry(k, `r${k}`).json, `r${k}`]);
    // Every claim of the job was released, in every chunk.
    expect((await cache.lookupOrClaim(keys.slice(-3), [null, null, null], 'after')).map((r) => r.status)).toEqual(['cached', 'cached', 'cached']);
    expect(await Promise.all(keys.map((k) => redis.exists(layout.claim(k))))).toEqual(keys.map(() => 0));
    expect(await cache.lookupOrClaim([keys[1]], [`r${keys[1]}`], 't')).toEqual([{ status: 'unchanged' }]);
    // Without bytes (a reply over the reply budget): cached keys found, not read; a missing one claimed.
    const heldBack = await cache.lookupOrClaim([...keys.slice(0, 10), key(99)], [...keys.slice(0, 10).map(() => null), null], 'budget', { withoutBytes: true });
    expect(heldBack).toEqual([...keys.slice(0, 10).map(() => ({ status: 'held-back' })), { status: 'claimed' }]);
    await cache.releaseClaims([key(99)], 'budget');
    // Older than what is stored: refused; as new: written.
    expect(await cache.writeIfCurrent([entry(keys[2], 'old')], g - 1, 60, null)).toEqual({ written: [], refused: [keys[2]] });
    await redis.incr(layout.generation);
    expect((await cache.writeIfCurrent([entry(keys[2], 'new')], await cache.generation(), 60, null)).written).toEqual([keys[2]]);
    expect(await reads(keys[2])).toEqual([entry(keys[2], 'new').json, 'new']);
    // A build that outlived its claim still writes what is current (a backlog longer than the
    // claim TTL must not turn every build into a refused one), and leaves the new holder's claim.
    const late = key(100);
    await cache.lookupOrClaim([late], [null], 'first');
    await cache.releaseClaims([late], 'first');
    await cache.lookupOrClaim([late], [null], 'second');
    expect((await cache.writeIfCurrent([entry(late)], await cache.generation(), 60, 'first')).written).toEqual([late]);
    expect(await redis.get(layout.claim(late))).toBe('second');
  });

  it('recomputes cached and claimed keys on an invalidation and marks the others, so an older write of them is refused', async () => {
    const cache = createRedisProjectConfigCache(redis, layout, { claimTtlS: 10 });
    const [cached, claimed, absent] = [key(201), key(202), key(203)];
    const before = await cache.generation();
    await cache.lookupOrClaim([cached, claimed], [null, null], 'b');
    await cache.writeIfCurrent([entry(cached)], before, 60, 'b');
    await redis.incr(layout.generation);
    const startedAt = await cache.generation();
    expect(await cache.invalidationTargets([cached, claimed, absent], startedAt)).toEqual(new Set([cached, claimed]));
    expect(await cache.cachedKeys([cached, claimed, absent])).toEqual(new Set([cached]));
    // A build that loaded before the change (reading `before`) is refused for the marked key too.
    expect(await cache.writeIfCurrent([entry(absent, 'stale')], before, 60, null)).toEqual({ written: [], refused: [absent] });
    expect(await cache.cachedKeys([absent])).toEqual(new Set());
    const result = await cache.writeIfCurrent([entry(cached, 'x'), entry(claimed, 'y'), entry(absent, 'z')], startedAt, 60, null);
    expect(result).toEqual({ written: [cached, claimed, absent], refused: [] });
    expect(await cache.peek([cached, claimed, key(204)])).toEqual(new Map([[cached, entry(cached, 'x').json], [claimed, entry(claimed, 'y').json]]));
    expect(await cache.disableCached([cached, key(204)])).toBe(1);
    expect(await reads(cached)).toEqual([DISABLED_JSON, null]);
    await cache.delete([claimed]);
    expect(await reads(claimed)).toEqual([null, null]);
  });

  it('de-duplicates pending invalidations with one-slot marker scripts', async () => {
    const generations = createConfigGenerations(redis, layout, { markerTtlMs: 60_000 });
    const before = Number((await redis.get(layout.generation)) ?? 0);
    const org = { scope: 'organization' as const, organizationId: 7 };
    const project = { scope: 'project' as const, organizationId: 7, projectId: 70 };
    expect(await generations.recordChange(project)).toBe(true);
    expect(await generations.recordChange(org)).toBe(true);
    expect(await generations.recordChange({ scope: 'key', organizationId: 7, projectId: 71, publicKey: key(1) })).toBe(false);
    expect(await generations.beginInvalidation(project)).toBe(false);
    expect(await generations.beginInvalidation(org)).toBe(true);
    expect(Number(await redis.get(layout.generation))).toBe(before + 3);
  });

  it('reads keys of many slots with one pipeline per master, in the order asked, as strings or buffers', async () => {
    if (!isCluster(redis)) throw new Error('expected a cluster client');
    const names = Array.from({ length: 300 }, (_, i) => `${prefix}read:${i}`);
    const stored = names.filter((_, i) => i % 7 !== 0);
    await Promise.all(stored.map((name) => redis.set(name, `value of ${name}`)));
    const pipeline = redis.pipeline.bind(redis);
    let pipelines = 0;
    redis.pipeline = ((...args: Parameters<typeof pipeline>) => {
      pipelines += 1;
      return pipeline(...args);
    });
    try {
      const asked = [...names].reverse();
      const expected = asked.map((name, i) => (names.length - 1 - i) % 7 === 0 ? null : `value of ${name}`);
      expect(await clusterGetMany(redis, asked, 'utf8')).toEqual(expected);
      expect(pipelines).toBe(3);
      const buffers = await clusterGetMany(redis, asked, 'buffer');
      expect(buffers.map((b) => (b === null ? null : Buffer.isBuffer(b) ? b.toString() : 'not a buffer'))).toEqual(expected);
      expect(await clusterGetMany(redis, [], 'utf8')).toEqual([]);
    } finally {
      redis.pipeline = pipeline;
    }
  });

  it("counts the cluster's errors as Redis unavailable", () => {
    for (const message of ['CLUSTERDOWN The cluster is down', 'TRYAGAIN Multiple keys request during rehashing of slot', 'MOVED 3999 127.0.0.1:6381', 'Too many Cluster redirections. Last error: x', 'Failed to refresh slots cache.', "Cluster isn't ready and enableOfflineQueue options is false"]) {
      expect(isRedisUnavailable(new Error(message)), message).toBe(true);
    }
    expect(isRedisUnavailable(new Error('CROSSSLOT Keys in request don\'t hash to the same slot'))).toBe(false);
    expect(isRedisUnavailable(new Error('ERR Error running script'))).toBe(false);
  });
});

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
    seeded = await seed(a.container.orm.em.fork(), { orgs: 10, projects: 10, keys: 5 });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('registers a relay and answers v3 polls end to end; two APIs and 20 clients on 500 uncached keys: exactly 500 builds', async () => {
    const keys = seeded.publicKeys;
    expect(keys).toHaveLength(500);
    const before = await builds(a, b);
    const clients = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? relay : relayOnB));
    const results = await Promise.all(clients.map((client) => client.pollConfigs(keys, { intervalMs: 50 })));
    for (const result of results) expect(result.configs.size).toBe(keys.length);
    await waitForQueuesToSettle(a.container, { quietMs: 300 });
    expect((await builds(a, b)) - before).toBe(keys.length);
  });

  it('spreads the configs of a fill over all three masters', async () => {
    const perNode = new Map<number, number>();
    for (const port of await cluster.portsOfKeys(seeded.publicKeys.map((k) => a.container.layout.config(k)))) perNode.set(port, (perNode.get(port) ?? 0) + 1);
    expect([...perNode.keys()].sort()).toEqual([...cluster.ports].sort());
    for (const count of perNode.values()) expect(count).toBeGreaterThan(0);
  });

  it("keeps each BullMQ queue's keys in one slot, named by the queue's own hash tag", async () => {
    const { layout, redis, settings } = a.container;
    const queueOf = new Map(JOB_KIND_NAMES.map((name) => [layout.bullPrefix(jobKinds[name].queue), jobKinds[name].queue] as const));
    expect(queueOf.size).toBe(JOB_KIND_NAMES.length);
    const keysOf = new Map<string, string[]>();
    for (const node of scanNodes(redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `{${settings.redisKeyPrefix}bull:*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const tag = key.slice(0, key.indexOf('}') + 1);
          expect(queueOf.has(tag)).toBe(true);
          keysOf.set(tag, [...(keysOf.get(tag) ?? []), key]);
        }
      } while (cursor !== '0');
    }
    // The fill above enqueued build jobs: that queue has keys.
    expect(keysOf.get(layout.bullPrefix(jobKinds.build.queue))?.length).toBeGreaterThan(0);
    for (const [tag, keys] of keysOf) {
      const slots = new Set(await Promise.all([tag, ...keys].map((k) => redis.call('CLUSTER', 'KEYSLOT', k) as Promise<number>)));
      expect(slots.size).toBe(1);
      expect(keys.every((k) => k.startsWith(`${tag}:${queueOf.get(tag)}:`))).toBe(true);
    }
  });

  it('stores what v3 serves where a processing Relay reads it: two GETs, JSON', async () => {
    const key = seeded.publicKeys[3];
    const served = (await relay.projectConfigs({ publicKeys: [key], fullConfig: true })).body.configs![key] as { rev: string };
    const [config, rev] = [await a.container.redis.get(a.container.layout.config(key)), await a.container.redis.get(a.container.layout.rev(key))];
    expect(JSON.parse(config!)).toEqual(served);
    expect(rev).toBe(served.rev);
    expect((await relay.projectConfigs({ publicKeys: [key], revisions: [served.rev] })).body.unchanged).toEqual([key]);
  });

  it("carries an operator's change to every cached config of its organization", async () => {
    const org = seeded.organizations[1];
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

  it('runs the CLI against the cluster: configs verify compares every cached config with a fresh computation', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'cli', '--', 'configs', 'verify', '--all'], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env } });
    expect(stdout).toContain(`${seeded.publicKeys.length} of ${seeded.publicKeys.length} keys cached; 0 differ`);
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
    // A master without the build queue's slot (scheduling needs it; the relay's key is cached in process).
    const buildQueue = await cluster.portOfKey(`${layout.bullPrefix(jobKinds.build.queue)}:x`);
    const victim = cluster.ports.findIndex((p) => p !== buildQueue);
    const ports = await cluster.portsOfKeys(seeded.publicKeys.map((k) => layout.config(k)));
    const portOf = new Map(seeded.publicKeys.map((k, i) => [k, ports[i]] as const));
    const lost = seeded.publicKeys.filter((k) => portOf.get(k) === cluster.ports[victim]);
    const kept = seeded.publicKeys.filter((k) => portOf.get(k) !== cluster.ports[victim]);
    expect(lost.length).toBeGreaterThan(0);
    expect(kept.length).toBeGreaterThan(0);

    await cluster.stop(victim);
    try {
      const deadline = Date.now() + 6000;
      while (Date.now() < deadline) {
        const started = Date.now();
        const onKept = await relay.projectConfigs({ publicKeys: [kept[0]] });
        expect(onKept.status).toBe(200);
        expect(Object.keys(onKept.body.configs ?? {})).toEqual([kept[0]]);
        const onLost = await relay.projectConfigs({ publicKeys: [lost[0]] });
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
