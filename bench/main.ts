import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadSettings } from '../src/config/settings';
import { createContainer, type Container } from '../src/container';
import { applyMigrations } from '../src/db/orm';
import { seed } from '../src/db/seed';
import { createDatabase, freePort, startProcess, type Proc } from './fleet';
import { BenchRelay, hammer, keepAliveAgent } from './load';
import { scrape as metric } from './prometheus';
import { printReport, type Figure } from './report';
import { adminClient, type AdminClient } from './admin';

/**
 * `npm run bench [-- --quick]`: starts the compiled service as separate processes (1 API,
 * 2 workers), seeds data, drives it the way Relay does, reads counts from `/metrics`, and prints
 * each figure next to its goal; the figures also go to `bench/results/`.
 */

const quick = process.argv.includes('--quick');
const SIZES = quick
  ? { hotSeconds: 3, hotPool: 500, coldOrgs: 10, coldProjects: 100, invalidationProjects: 300, dedupePollers: 20, dedupeKeys: 300, stormFill: 200 }
  : { hotSeconds: 10, hotPool: 1000, coldOrgs: 100, coldProjects: 100, invalidationProjects: 1000, dedupePollers: 50, dedupeKeys: 1000, stormFill: 1000 };
const CONNECTIONS = 20;
const KEYS_PER_HOT_REQUEST = 100;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const seconds = (ms: number) => Math.round(ms) / 1000;

async function main(): Promise<void> {
  const base = loadSettings();
  const runId = `${Date.now().toString(36)}`;
  const database = await createDatabase(base.databaseUrl, `relaycfg_bench_${runId}`);
  const prefix = `bench:${runId}:`;
  const apiPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    SYSTEM_SECRET_KEY: `bench-${runId}-secret-not-for-production`,
    DATABASE_URL: database.url,
    REDIS_URL: base.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    INTERNAL_SYSTEM_IPS: '127.0.0.1/32',
    LOG_LEVEL: 'warn',
    PORT: String(apiPort),
  };
  const procs: Proc[] = [];
  let container: Container | null = null;
  const figures: Figure[] = [];
  try {
    // The benchmark's own connection, to migrate and seed (as an operator's CLI would).
    container = await createContainer({ ...base, databaseUrl: database.url, redisKeyPrefix: prefix, logLevel: 'warn' }, 'cli', { logger: pino({ level: 'warn' }) });
    await applyMigrations(container.orm);

    log('starting 1 API and 2 workers');
    const api = await startProcess('api', 'workers/api.js', env, apiPort);
    procs.push(api);
    const workerProcs: Proc[] = [];
    for (let i = 1; i <= 2; i++) {
      const port = await freePort();
      workerProcs.push(await startProcess(`worker-${i}`, 'workers/worker.js', { ...env, WORKER_PORT: String(port) }, port));
    }
    procs.push(...workerProcs);
    const builds = async () => (await Promise.all(workerProcs.map((w) => metric(w.url, 'relay_projectconfig_builds_total', { trigger: 'build' })))).reduce((a, b) => a + b, 0);
    const workerSum = async (name: string) => (await Promise.all(workerProcs.map((w) => metric(w.url, name)))).reduce((a, b) => a + b, 0);

    const agent = keepAliveAgent(64);
    const relay = new BenchRelay(api.url, agent);
    await relay.register();
    const admin: AdminClient = await adminClient(container, api.url);

    // 1. Hot path --------------------------------------------------------------------------
    log('hot path: seeding and filling the cache');
    const hot = await seed(container.orm.em.fork(), { orgs: 10, projects: SIZES.hotPool / 10, keys: 1, slugPrefix: 'hot' });
    await relay.pollAll(hot.publicKeys);
    const floorPort = await freePort();
    const floor = await startProcess('floor', 'bench/floor-server.js', env, floorPort, [String(floorPort), base.redisUrl, prefix, relay.relayId, relay.publicKey], 'floor listening');
    procs.push(floor);
    const bodies = Array.from({ length: 64 }, (_, i) => {
      const keys = Array.from({ length: KEYS_PER_HOT_REQUEST }, (_, j) => hot.publicKeys[(i * 37 + j * 13) % hot.publicKeys.length]!);
      return relay.prepare('/api/0/relays/projectconfigs/?version=3', { publicKeys: [...new Set(keys)], fullConfig: true });
    });
    const complete = (r: { status: number; text: string }) => r.status === 200 && r.text.includes('"pending":[]');
    // Warm both, then measure both in the same run.
    await hammer(api.url, bodies, CONNECTIONS, 1500, complete);
    await hammer(floor.url, bodies, CONNECTIONS, 1500, complete);
    log(`hot path: service ${SIZES.hotSeconds} s`);
    const service = await hammer(api.url, bodies, CONNECTIONS, SIZES.hotSeconds * 1000, complete);
    log(`hot path: floor ${SIZES.hotSeconds} s`);
    const floorResult = await hammer(floor.url, bodies, CONNECTIONS, SIZES.hotSeconds * 1000, complete);
    await floor.stop();
    procs.splice(procs.indexOf(floor), 1);
    const ratio = service.perSecond / floorResult.perSecond;
    figures.push(
      { name: 'hot path: service throughput', value: service.perSecond, unit: 'req/s', detail: `${KEYS_PER_HOT_REQUEST} keys/request, ${CONNECTIONS} connections, errors ${service.errors}` },
      { name: 'hot path: service p50 / p99', value: service.p50Ms, unit: 'ms', detail: `p99 ${service.p99Ms.toFixed(1)} ms` },
      { name: 'hot path: floor throughput', value: floorResult.perSecond, unit: 'req/s', detail: `p50 ${floorResult.p50Ms.toFixed(1)} ms, p99 ${floorResult.p99Ms.toFixed(1)} ms, errors ${floorResult.errors}` },
      { name: 'hot path: service / floor', value: ratio, unit: '×', goal: '≥ 0.8 (aim 0.9)', ok: ratio >= 0.8 },
    );

    // 2. Cold fill -------------------------------------------------------------------------
    const coldKeys = SIZES.coldOrgs * SIZES.coldProjects;
    log(`cold fill: seeding ${coldKeys} keys (${SIZES.coldOrgs} organizations × ${SIZES.coldProjects} projects × 1 key)`);
    const cold = await seed(container.orm.em.fork(), { orgs: SIZES.coldOrgs, projects: SIZES.coldProjects, keys: 1, slugPrefix: 'cold' });
    const buildsBefore = await builds();
    const fillStarted = Date.now();
    await relay.pollAll(cold.publicKeys, { timeoutMs: 120_000 });
    const fillMs = Date.now() - fillStarted;
    const coldBuilds = (await builds()) - buildsBefore;
    figures.push(
      { name: `cold fill: ${coldKeys} keys, time to all configs`, value: seconds(fillMs), unit: 's', goal: '≤ 3 s', ok: fillMs <= 3000 },
      { name: 'cold fill: builds performed', value: coldBuilds, unit: 'builds', goal: `= ${coldKeys}`, ok: coldBuilds === coldKeys },
    );

    // SQL statements per build job at batch sizes 1, 50 and 500 (keys taken out of the cache).
    const perJob: Record<number, number> = {};
    for (const size of [1, 50, 500]) {
      const keys = cold.publicKeys.slice(0, size);
      await container.configCache.deleteMany(keys);
      const [queries0, jobs0] = [await workerSum('relay_projectconfig_job_sql_queries_sum'), await workerSum('relay_projectconfig_job_sql_queries_count')];
      await relay.pollAll(keys, { batch: size });
      const [queries1, jobs1] = [await workerSum('relay_projectconfig_job_sql_queries_sum'), await workerSum('relay_projectconfig_job_sql_queries_count')];
      perJob[size] = (queries1 - queries0) / Math.max(1, jobs1 - jobs0);
    }
    const constant = perJob[1] === perJob[50] && perJob[50] === perJob[500];
    figures.push({ name: 'SQL statements per build job (1 / 50 / 500 keys)', value: perJob[500]!, unit: 'queries', detail: `${perJob[1]} / ${perJob[50]} / ${perJob[500]}`, goal: 'the same for every size', ok: constant });

    // 3. Invalidation ----------------------------------------------------------------------
    log(`invalidation: ${SIZES.invalidationProjects} projects of one organization`);
    const big = await seed(container.orm.em.fork(), { orgs: 1, projects: SIZES.invalidationProjects, keys: 1, slugPrefix: 'inval' });
    await relay.pollAll(big.publicKeys);
    const orgSlug = big.organizations[0]!.slug;
    const newRelay = new BenchRelay(api.url, agent).publicKey;
    const putDone = await admin.putTrustedRelays(orgSlug, [{ publicKey: newRelay, name: 'bench relay', description: 'added by the benchmark' }]);
    const visibleMs = await waitUntil(async () => {
      const configs = await relay.pollAll(big.publicKeys);
      return [...configs.values()].every((c) => ((c as { config?: { trustedRelays?: string[] } }).config?.trustedRelays ?? []).includes(newRelay));
    }, 30_000);
    const invalidationMs = visibleMs - putDone;
    figures.push({ name: `invalidation: ${SIZES.invalidationProjects} projects, PUT → all configs updated`, value: seconds(invalidationMs), unit: 's', goal: '≤ 2 s', ok: invalidationMs <= 2000, detail: `coalescing delay ${loadSettings().invalidationDelayMs} ms included` });

    // 4. Dedupe ----------------------------------------------------------------------------
    log(`dedupe: ${SIZES.dedupePollers} pollers on ${SIZES.dedupeKeys} uncached keys`);
    const dedupe = await seed(container.orm.em.fork(), { orgs: 10, projects: SIZES.dedupeKeys / 10, keys: 1, slugPrefix: 'dedupe', bare: true });
    const pollers = await Promise.all(
      Array.from({ length: SIZES.dedupePollers }, async () => {
        const poller = new BenchRelay(api.url, agent);
        await poller.register();
        return poller;
      }),
    );
    const dedupeBefore = await builds();
    await Promise.all(pollers.map((p) => p.pollAll(dedupe.publicKeys)));
    const perKey = ((await builds()) - dedupeBefore) / SIZES.dedupeKeys;
    figures.push({ name: `dedupe: builds per key (${SIZES.dedupePollers} pollers)`, value: perKey, unit: 'builds/key', goal: '= 1', ok: perKey === 1 });

    // 5. Builds during an invalidation storm -------------------------------------------------
    log(`storm: cold fill of ${SIZES.stormFill} keys alone, then during invalidation of ${coldKeys} cached keys`);
    const alone = await seed(container.orm.em.fork(), { orgs: 10, projects: SIZES.stormFill / 10, keys: 1, slugPrefix: 'alone' });
    const aloneStarted = Date.now();
    await relay.pollAll(alone.publicKeys);
    const aloneMs = Date.now() - aloneStarted;
    const during = await seed(container.orm.em.fork(), { orgs: 10, projects: SIZES.stormFill / 10, keys: 1, slugPrefix: 'storm' });
    const storm = Promise.all(cold.organizations.map((o, i) => admin.putSensitiveFields(o.slug, [`storm-${i}`])));
    await new Promise((r) => setTimeout(r, 50));
    const stormStarted = Date.now();
    await relay.pollAll(during.publicKeys);
    const stormMs = Date.now() - stormStarted;
    await storm;
    const stormRatio = stormMs / aloneMs;
    figures.push(
      { name: `storm: fill of ${SIZES.stormFill} keys alone`, value: seconds(aloneMs), unit: 's' },
      { name: `storm: same fill while ${coldKeys} cached keys are invalidated`, value: seconds(stormMs), unit: 's', detail: `ratio ${stormRatio.toFixed(2)}` },
      { name: 'storm: fill during storm / alone', value: stormRatio, unit: '×', goal: '≤ 1.2', ok: stormRatio <= 1.2 },
    );

    // 6. Memory --------------------------------------------------------------------------------
    const apiRss = api.peakRssMb();
    const workerRss = Math.max(...workerProcs.map((w) => w.peakRssMb()));
    figures.push(
      { name: 'peak RSS: API', value: apiRss, unit: 'MB', goal: '≤ 150 MB', ok: apiRss <= 150 },
      { name: 'peak RSS: worker (largest of 2)', value: workerRss, unit: 'MB', goal: '≤ 250 MB', ok: workerRss <= 250 },
    );
    agent.destroy();
  } finally {
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    await container?.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
  }

  const result = { date: new Date().toISOString(), quick, cores: cpus().length, node: process.version, sizes: SIZES, figures };
  const dir = path.resolve(__dirname, '../../bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${quick ? 'quick' : 'full'}-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  printReport(result);
  process.stdout.write(`\nfigures written to ${path.relative(process.cwd(), file)}\n`);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${(error as Error).stack}\n`);
  process.exitCode = 1;
});
