import type { Agent } from 'node:http';
import pino from 'pino';
import { scanNodes } from '../src/caches/redis';
import { loadSettings, type Settings } from '../src/config/settings';
import { createContainer, type Container } from '../src/container';
import { applyMigrations } from '../src/db/orm';
import { seed } from '../src/db/seed';
import { createDatabase, freePort, startProcess, type Proc } from './fleet';
import { BenchRelay, hammer, keepAliveAgent, type PreparedRequest } from './load';
import { scrape as metric } from './prometheus';
import { startLocalRedis, startRedisCluster, type LocalRedis, type LocalRedisCluster } from './redis-cluster';
import type { Figure } from './report';

/**
 * `npm run bench -- --cluster`: the hot path and the cold fill on a real three-master Redis
 * Cluster next to a single Redis, in the same run. Both are private `redis-server`s started here
 * on free loopback ports (nobody else's traffic on either, so their CPU counters are ours), each
 * with its own database and its own stack (1 API, 2 workers); the two stacks take turns, so drift
 * on a shared machine hits both alike. The figures are cluster / single ratios with both values
 * beside them: there is no speed goal for the cluster (on one machine it does more round trips
 * for the same work); the goals below are correctness (one build per key, every master used).
 */

export interface ClusterBenchOptions {
  quick: boolean;
  log: (message: string) => void;
}

const SIZES = {
  quick: { hotPool: 500, warmSeconds: 2, hotSeconds: 4, coldOrgs: 10, coldProjects: 100, coldRepetitions: 1 },
  full: { hotPool: 1000, warmSeconds: 3, hotSeconds: 12, coldOrgs: 20, coldProjects: 100, coldRepetitions: 3 },
};
const CONNECTIONS = 20;
const KEYS_PER_HOT_REQUEST = 100;

type Mode = 'single' | 'cluster';

/** One mode's service: its Redis, database, processes, and the benchmark's own container. */
interface Stack {
  mode: Mode;
  api: Proc;
  workers: Proc[];
  container: Container;
  relay: BenchRelay;
  /** CPU time of its Redis server(s) so far, in ms. */
  redisCpuMs(): Promise<number>;
  builds(): Promise<number>;
  /** A metric summed over both workers. */
  workerSum(name: string): Promise<number>;
}

/** What one measurement adds up to. */
interface Tally {
  requests: number;
  seconds: number;
  errors: number;
  bytes: number;
  apiCpuMs: number;
  redisCpuMs: number;
  p50: number[];
}

const emptyTally = (): Tally => ({ requests: 0, seconds: 0, errors: 0, bytes: 0, apiCpuMs: 0, redisCpuMs: 0, p50: [] });
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const fixed = (x: number, digits = 2) => x.toFixed(digits);

async function startStack(mode: Mode, base: Settings, redis: LocalRedis | LocalRedisCluster, agent: Agent, cleanups: (() => Promise<void>)[], procs: Proc[]): Promise<Stack> {
  const runId = `${Date.now().toString(36)}${mode === 'cluster' ? 'c' : 's'}`;
  const database = await createDatabase(base.databaseUrl, `relaycfg_bench_${runId}`);
  cleanups.push(() => database.drop());
  const prefix = `bench:${runId}:`;
  const cluster = 'nodes' in redis ? redis : null;
  // With REDIS_CLUSTER_NODES set, REDIS_URL is not used.
  const redisUrl = 'url' in redis ? redis.url : base.redisUrl;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    SYSTEM_SECRET_KEY: `bench-${runId}-secret-not-for-production`,
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    INTERNAL_SYSTEM_IPS: '127.0.0.1/32',
    LOG_LEVEL: 'warn',
  };
  if (cluster) env.REDIS_CLUSTER_NODES = cluster.nodes;
  else delete env.REDIS_CLUSTER_NODES;
  const settings: Settings = {
    ...base,
    databaseUrl: database.url,
    redisUrl,
    redisClusterNodes: cluster ? cluster.ports.map((port) => ({ host: '127.0.0.1', port, tls: false })) : [],
    redisKeyPrefix: prefix,
    logLevel: 'warn',
  };
  const container = await createContainer(settings, 'cli', { logger: pino({ level: 'warn' }) });
  cleanups.push(() => container.close());
  await applyMigrations(container.orm);
  const apiPort = await freePort();
  const api = await startProcess(`${mode} api`, 'workers/api.js', { ...env, PORT: String(apiPort) }, apiPort);
  cleanups.push(() => api.stop());
  procs.push(api);
  const workers: Proc[] = [];
  for (let i = 1; i <= 2; i++) {
    const port = await freePort();
    const worker = await startProcess(`${mode} worker-${i}`, 'workers/worker.js', { ...env, WORKER_PORT: String(port) }, port);
    cleanups.push(() => worker.stop());
    procs.push(worker);
    workers.push(worker);
  }
  const relay = new BenchRelay(api.url, agent);
  await relay.register();
  return {
    mode,
    api,
    workers,
    container,
    relay,
    redisCpuMs: () => redis.cpuMs(),
    builds: async () => (await Promise.all(workers.map((w) => metric(w.url, 'relay_projectconfig_builds_total', { trigger: 'build' })))).reduce((a, c) => a + c, 0),
    workerSum: async (name) => (await Promise.all(workers.map((w) => metric(w.url, name)))).reduce((a, c) => a + c, 0),
  };
}

/** The same signed 100-key v3 requests as the main hot path, over one stack's cached keys. */
async function hotRequests(stack: Stack, hotPool: number): Promise<PreparedRequest[]> {
  const hot = await seed(stack.container.orm.em.fork(), { orgs: 10, projects: hotPool / 10, keys: 1, slugPrefix: 'hot-cluster', bare: true });
  await stack.relay.pollAll(hot.publicKeys);
  return Array.from({ length: 64 }, (_, i) => {
    const keys = Array.from({ length: KEYS_PER_HOT_REQUEST }, (_, j) => hot.publicKeys[(i * 37 + j * 13) % hot.publicKeys.length]);
    return stack.relay.prepare('/api/0/relays/projectconfigs/?version=3', { publicKeys: [...new Set(keys)], fullConfig: true });
  });
}

async function measureHot(stack: Stack, bodies: PreparedRequest[], ms: number, into: Tally): Promise<void> {
  const api0 = stack.api.cpuMs();
  const redis0 = await stack.redisCpuMs();
  const r = await hammer(stack.api.url, bodies, CONNECTIONS, ms);
  into.apiCpuMs += stack.api.cpuMs() - api0;
  into.redisCpuMs += (await stack.redisCpuMs()) - redis0;
  into.requests += r.requests;
  into.seconds += r.seconds;
  into.errors += r.errors;
  into.bytes += r.bytesPerReply * r.requests;
  into.p50.push(r.p50Ms);
}

/** Fills `count` fresh keys from uncached to all served; what it took. */
async function coldFill(stack: Stack, orgs: number, projects: number, slugPrefix: string): Promise<{ ms: number; builds: number; jobs: number; jobMs: number; workerCpuMs: number; redisCpuMs: number }> {
  const cold = await seed(stack.container.orm.em.fork(), { orgs, projects, keys: 1, slugPrefix });
  const builds0 = await stack.builds();
  const jobs0 = await stack.workerSum('relay_projectconfig_job_duration_seconds_count');
  const jobSeconds0 = await stack.workerSum('relay_projectconfig_job_duration_seconds_sum');
  const cpu0 = stack.workers.reduce((a, w) => a + w.cpuMs(), 0);
  const redis0 = await stack.redisCpuMs();
  const started = Date.now();
  await stack.relay.pollAll(cold.publicKeys, { timeoutMs: 120_000 });
  const ms = Date.now() - started;
  return {
    ms,
    builds: (await stack.builds()) - builds0,
    jobs: (await stack.workerSum('relay_projectconfig_job_duration_seconds_count')) - jobs0,
    jobMs: ((await stack.workerSum('relay_projectconfig_job_duration_seconds_sum')) - jobSeconds0) * 1000,
    workerCpuMs: stack.workers.reduce((a, w) => a + w.cpuMs(), 0) - cpu0,
    redisCpuMs: (await stack.redisCpuMs()) - redis0,
  };
}

/** Cached configs of this stack on each master (SCAN per master). */
async function configsPerMaster(stack: Stack): Promise<number[]> {
  const counts: number[] = [];
  for (const node of scanNodes(stack.container.redis)) {
    let count = 0;
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', stack.container.layout.configPattern, 'COUNT', 1000);
      cursor = next;
      count += keys.filter((k) => stack.container.layout.publicKeyOfConfig(k) !== null).length;
    } while (cursor !== '0');
    counts.push(count);
  }
  return counts;
}

/** Runs the cluster scenario; the figures go into the main report. */
export async function clusterScenario(options: ClusterBenchOptions): Promise<Figure[]> {
  const started = Date.now();
  const log = (message: string) => options.log(`${message} (at ${fixed((Date.now() - started) / 1000, 1)} s)`);
  const sizes = options.quick ? SIZES.quick : SIZES.full;
  const base = loadSettings();
  const cleanups: (() => Promise<void>)[] = [];
  const procs: Proc[] = [];
  const agent = keepAliveAgent(64);
  let single: LocalRedis | null = null;
  let cluster: LocalRedisCluster | null = null;
  // Ctrl-C must not leave daemonized redis-servers behind (nor a worker retrying a Redis that is
  // gone: the stacks' processes go first). The databases stay, as with the other scenarios.
  const onSignal = (signal: NodeJS.Signals) => {
    for (const proc of procs) proc.child.kill('SIGKILL');
    single?.closeSync();
    cluster?.closeSync();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log('cluster: starting a private single Redis and a private 3-master Redis Cluster');
    single = await startLocalRedis();
    cluster = await startRedisCluster();
    log('cluster: starting one stack (1 API, 2 workers, own database) per mode');
    const stacks = [await startStack('single', base, single, agent, cleanups, procs), await startStack('cluster', base, cluster, agent, cleanups, procs)];
    const clusterStack = stacks[1];

    log(`cluster: hot path, ${sizes.hotPool} cached keys per mode, ${KEYS_PER_HOT_REQUEST} keys per request, plain and gzip`);
    const bodies = new Map<Stack, { plain: PreparedRequest[]; gzip: PreparedRequest[] }>();
    for (const stack of stacks) {
      const plain = await hotRequests(stack, sizes.hotPool);
      bodies.set(stack, { plain, gzip: plain.map((b) => ({ ...b, headers: { ...b.headers, 'accept-encoding': 'gzip' } })) });
    }
    for (const stack of stacks) for (const variant of ['plain', 'gzip'] as const) await hammer(stack.api.url, bodies.get(stack)![variant], CONNECTIONS, sizes.warmSeconds * 1000);
    const tallies = { single: { plain: emptyTally(), gzip: emptyTally() }, cluster: { plain: emptyTally(), gzip: emptyTally() } };
    for (let round = 0; round < 3; round++) {
      // Alternating, and the order flips each round.
      const order = round % 2 === 0 ? stacks : [...stacks].reverse();
      for (const variant of ['plain', 'gzip'] as const) for (const stack of order) await measureHot(stack, bodies.get(stack)![variant], (sizes.hotSeconds * 1000) / 3, tallies[stack.mode][variant]);
    }

    const coldKeys = sizes.coldOrgs * sizes.coldProjects;
    log(`cluster: cold fill of ${coldKeys} keys per mode, ${sizes.coldRepetitions} repetition(s), 2 workers each`);
    const fills: Record<Mode, Awaited<ReturnType<typeof coldFill>>[]> = { single: [], cluster: [] };
    for (let rep = 0; rep < sizes.coldRepetitions; rep++) {
      const order = rep % 2 === 0 ? stacks : [...stacks].reverse();
      for (const stack of order) fills[stack.mode].push(await coldFill(stack, sizes.coldOrgs, sizes.coldProjects, `cold-cluster${rep}`));
    }
    const perMaster = await configsPerMaster(clusterStack);
    const singleMemory = await single.memoryBytes();
    const clusterMemory = await cluster.memoryBytes();

    const figures: Figure[] = [];
    const hot = (variant: 'plain' | 'gzip') => {
      const summary = (t: Tally) => ({ perSecond: t.requests / t.seconds, p50: median(t.p50), errors: t.errors, apiCpu: t.apiCpuMs / Math.max(1, t.requests), redisCpu: t.redisCpuMs / Math.max(1, t.requests), kib: t.bytes / Math.max(1, t.requests) / 1024 });
      const s = summary(tallies.single[variant]);
      const c = summary(tallies.cluster[variant]);
      figures.push(
        { name: `cluster: hot path (${variant}), throughput cluster / single`, value: c.perSecond / s.perSecond, unit: '×', detail: `${fixed(c.perSecond, 0)} vs ${fixed(s.perSecond, 0)} req/s; p50 ${fixed(c.p50, 1)} vs ${fixed(s.p50, 1)} ms; ${Math.round(c.kib)} vs ${Math.round(s.kib)} KiB per reply; errors ${c.errors} / ${s.errors}` },
        { name: `cluster: hot path (${variant}), API CPU per request cluster / single`, value: c.apiCpu / s.apiCpu, unit: '×', detail: `${fixed(c.apiCpu, 3)} vs ${fixed(s.apiCpu, 3)} ms (API process)` },
        { name: `cluster: hot path (${variant}), Redis CPU per request cluster / single`, value: c.redisCpu / s.redisCpu, unit: '×', detail: `${fixed(c.redisCpu, 3)} ms (3 masters summed) vs ${fixed(s.redisCpu, 3)} ms (INFO cpu)` },
        { name: `cluster: hot path (${variant}), requests answered without error`, value: c.errors + s.errors, unit: 'errors', goal: '= 0', ok: c.errors + s.errors === 0 },
      );
    };
    hot('plain');
    hot('gzip');
    const fillMs = (mode: Mode) => median(fills[mode].map((f) => f.ms));
    const perKey = (mode: Mode, pick: (f: (typeof fills)[Mode][number]) => number) => median(fills[mode].map((f) => pick(f) / coldKeys));
    const times = (mode: Mode) => fills[mode].map((f) => fixed(f.ms / 1000)).join(' / ');
    const jobs = (mode: Mode) => fills[mode].map((f) => `${f.jobs} jobs, ${fixed(f.jobMs / 1000)} s in jobs`).join(' / ');
    figures.push(
      { name: `cluster: cold fill of ${coldKeys} keys, time cluster / single`, value: fillMs('cluster') / fillMs('single'), unit: '×', detail: `median of ${sizes.coldRepetitions}: ${fixed(fillMs('cluster') / 1000)} vs ${fixed(fillMs('single') / 1000)} s (cluster ${times('cluster')} s, ${jobs('cluster')}; single ${times('single')} s, ${jobs('single')})` },
      { name: 'cluster: cold fill, worker CPU per key cluster / single', value: perKey('cluster', (f) => f.workerCpuMs) / perKey('single', (f) => f.workerCpuMs), unit: '×', detail: `${fixed(perKey('cluster', (f) => f.workerCpuMs), 3)} vs ${fixed(perKey('single', (f) => f.workerCpuMs), 3)} ms (2 workers summed)` },
      { name: 'cluster: cold fill, Redis CPU per key cluster / single', value: perKey('cluster', (f) => f.redisCpuMs) / perKey('single', (f) => f.redisCpuMs), unit: '×', detail: `${fixed(perKey('cluster', (f) => f.redisCpuMs), 3)} ms (3 masters summed) vs ${fixed(perKey('single', (f) => f.redisCpuMs), 3)} ms` },
      {
        name: 'cluster: cold fill, builds per key (both modes)',
        value: Math.max(...[...fills.single, ...fills.cluster].map((f) => f.builds / coldKeys)),
        unit: 'builds/key',
        goal: '= 1',
        ok: [...fills.single, ...fills.cluster].every((f) => f.builds === coldKeys),
        detail: `cluster ${fills.cluster.map((f) => f.builds).join(' / ')}, single ${fills.single.map((f) => f.builds).join(' / ')} builds of ${coldKeys}`,
      },
      {
        name: 'cluster: cached configs on each master',
        value: Math.min(...perMaster) / Math.max(1, Math.max(...perMaster)),
        unit: '× (fewest / most)',
        goal: 'every master holds some',
        ok: perMaster.length === 3 && perMaster.every((n) => n > 0),
        detail: `${perMaster.join(' / ')} configs; used_memory ${clusterMemory.map((b) => fixed(b / 2 ** 20, 1)).join(' / ')} MiB vs single ${fixed(singleMemory / 2 ** 20, 1)} MiB`,
      },
    );
    return figures;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    agent.destroy();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await single?.close().catch(() => undefined);
    await cluster?.close().catch(() => undefined);
  }
}
