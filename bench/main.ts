import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadSettings } from '../src/config/settings';
import { deleteKeysWithPrefix } from '../src/caches/redis';
import { createContainer, type Container } from '../src/container';
import { applyMigrations } from '../src/db/orm';
import type { Agent } from 'node:http';
import { seed, type SeedResult } from '../src/db/seed';
import { cpuBetween, cpuSnapshot, createDatabase, freePort, startProcess, type Proc } from './fleet';
import { BenchRelay, hammer, keepAliveAgent } from './load';
import { scrape as metric } from './prometheus';
import { printReport, type Figure } from './report';
import { adminClient, type AdminClient } from './admin';
import { outageScenario } from './outage';
import { clusterScenario } from './cluster';

/**
 * `npm run bench [-- --quick]`: starts the compiled service as separate processes (1 API,
 * 2 workers), seeds data, drives it the way Relay does, reads counts from `/metrics`, and prints
 * each figure next to its goal; the figures also go to `bench/results/`.
 */

const quick = process.argv.includes('--quick');
/** `--only hot,cold,invalidation,dedupe,storm,outage` runs a subset (memory is always reported). */
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined);
const only = onlyArg ? new Set(onlyArg.split(',')) : null;
/** `--cluster` adds the Redis Cluster scenario (bench/cluster.ts); `--only cluster` runs it alone. */
const cluster = process.argv.includes('--cluster') || only?.has('cluster') === true;
/** `--api-node-options="--max-semi-space-size=16"`: NODE_OPTIONS of the API process only (V8 settings vs throughput). */
const apiNodeOptions = process.argv.find((a) => a.startsWith('--api-node-options='))?.slice('--api-node-options='.length);
/** `--worker-node-options=...`: the same for the two workers (a profiler preload, say). */
const workerNodeOptions = process.argv.find((a) => a.startsWith('--worker-node-options='))?.slice('--worker-node-options='.length);
const SIZES = quick
  ? { warmSeconds: 1, hotSeconds: 3, hotPool: 500, coldOrgs: 10, coldProjects: 100, invalidationProjects: 300, dedupePollers: 20, dedupeKeys: 300, stormFill: 200 }
  : { warmSeconds: 5, hotSeconds: 15, hotPool: 1000, coldOrgs: 100, coldProjects: 100, invalidationProjects: 1000, dedupePollers: 50, dedupeKeys: 1000, stormFill: 2500 };
const CONNECTIONS = 20;
const KEYS_PER_HOT_REQUEST = 100;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const seconds = (ms: number) => Math.round(ms) / 1000;

/** What every scenario works with. */
interface Bench {
  api: Proc;
  workers: Proc[];
  container: Container;
  relay: BenchRelay;
  agent: Agent;
  admin: AdminClient;
  figures: Figure[];
  /** Configs built by the workers (trigger "build"), summed over both. */
  builds(): Promise<number>;
  workerSum(name: string): Promise<number>;
  /** The cold-fill keys once that scenario ran (the storm invalidates them). */
  cold?: SeedResult;
}

/**
 * Service vs floor on the same cached keys, same signed requests, same connections, in one run.
 * Plain projects give ~1 KiB configs (framework overhead shows); seeded options give ~2.5 KiB
 * configs, where 250 KiB replies make both servers bound by moving bytes on this machine.
 */
async function hotPath(b: Bench, env: NodeJS.ProcessEnv, redisUrl: string, prefix: string, variant: 'plain' | 'realistic'): Promise<void> {
  log(`hot path (${variant} configs): seeding and filling the cache`);
  const hot = await seed(b.container.orm.em.fork(), { orgs: 10, projects: SIZES.hotPool / 10, keys: 1, slugPrefix: `hot-${variant}`, bare: variant === 'plain' });
  const cached = await b.relay.pollAll(hot.publicKeys);
  const startFloor = async (mode: 'bare' | 'express' | 'revisions') => {
    const port = await freePort();
    const args = [String(port), redisUrl, prefix, b.relay.relayId, b.relay.publicKey, ...(mode === 'bare' ? [] : [`--${mode}`])];
    return startProcess(mode === 'bare' ? 'floor' : `${mode} floor`, 'bench/floor-server.js', env, port, args, 'floor listening');
  };
  const floor = await startFloor('bare');
  const expressFloor = await startFloor('express');
  // Relay's steady state (revisions filled in) only with the plain variant, to keep the run short.
  const revisionsFloor = variant === 'plain' ? await startFloor('revisions') : null;
  try {
    const keySets = Array.from({ length: 64 }, (_, i) => [...new Set(Array.from({ length: KEYS_PER_HOT_REQUEST }, (_, j) => hot.publicKeys[(i * 37 + j * 13) % hot.publicKeys.length]))]);
    const path = '/api/0/relays/projectconfigs/?version=3';
    const bodies = keySets.map((keys) => b.relay.prepare(path, { publicKeys: keys, fullConfig: true }));
    // Every key sent with the rev Relay holds, one in ten of them outdated: a revs read, then a
    // config read for the outdated ones; the reply lists the others as `unchanged` (last in it).
    const revisionOf = (key: string) => (cached.get(key) as { rev?: string } | undefined)?.rev ?? null;
    const revisionBodies = keySets.map((keys) => {
      const revisions = keys.map((key, j) => (j % 10 === 0 ? 'outdated' : revisionOf(key)));
      const unchanged = keys.filter((_, j) => j % 10 !== 0);
      return { ...b.relay.prepare(path, { publicKeys: keys, revisions, fullConfig: true }), expectTail: `${unchanged.at(-1) ?? ''}"]}`.slice(-16) };
    });
    // Warm both (the API has far more code for the JIT to optimise), then measure both.
    await hammer(b.api.url, bodies, CONNECTIONS, SIZES.warmSeconds * 1000);
    await hammer(floor.url, bodies, CONNECTIONS, SIZES.warmSeconds * 1000);
    await hammer(expressFloor.url, bodies, CONNECTIONS, SIZES.warmSeconds * 1000);
    if (revisionsFloor) {
      await hammer(b.api.url, revisionBodies, CONNECTIONS, SIZES.warmSeconds * 1000);
      await hammer(revisionsFloor.url, revisionBodies, CONNECTIONS, SIZES.warmSeconds * 1000);
    }
    log(`hot path (${variant}): service, floor and floor in Express${revisionsFloor ? ', and both with revisions' : ''}, ${SIZES.hotSeconds} s each in 3 alternating rounds`);
    // The same requests as Relay sends them (`Accept-Encoding: gzip`): answered from stored pieces.
    const gzipBodies = bodies.map((body) => ({ ...body, headers: { ...body.headers, 'accept-encoding': 'gzip' } }));
    await hammer(b.api.url, gzipBodies, CONNECTIONS, SIZES.warmSeconds * 1000);
    // The API's major GCs over the measured rounds (prom-client's default GC histogram): V8's heap
    // sizing puts some runs in a mode that collects old space almost continuously (README, "Noise").
    const apiGc = async () => ({ count: await metric(b.api.url, 'nodejs_gc_duration_seconds_count', { kind: 'major' }), seconds: await metric(b.api.url, 'nodejs_gc_duration_seconds_sum', { kind: 'major' }) });
    const gc0 = await apiGc();
    // Alternating rounds, so drift on a shared machine affects every server alike.
    type Run = { proc: Proc; bodies: typeof bodies; requests: number; seconds: number; errors: number; cpuMs: number; bytes: number; p50: number[]; p99: number[] };
    const run = (proc: Proc, runBodies: typeof bodies): Run => ({ proc, bodies: runBodies, requests: 0, seconds: 0, errors: 0, cpuMs: 0, bytes: 0, p50: [], p99: [] });
    const runs: Record<string, Run> = { service: run(b.api, bodies), gzip: run(b.api, gzipBodies), floor: run(floor, bodies), express: run(expressFloor, bodies) };
    if (revisionsFloor) Object.assign(runs, { revisions: run(b.api, revisionBodies), revisionsFloor: run(revisionsFloor, revisionBodies) });
    for (let round = 0; round < 3; round++) {
      for (const total of Object.values(runs)) {
        const cpu0 = total.proc.cpuMs();
        const r = await hammer(total.proc.url, total.bodies, CONNECTIONS, (SIZES.hotSeconds * 1000) / 3);
        total.cpuMs += total.proc.cpuMs() - cpu0;
        total.requests += r.requests;
        total.seconds += r.seconds;
        total.errors += r.errors;
        total.bytes += r.bytesPerReply * r.requests;
        total.p50.push(r.p50Ms);
        total.p99.push(r.p99Ms);
      }
    }
    const summary = (t: Run) => {
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
      return { perSecond: t.requests / t.seconds, errors: t.errors, p50Ms: median(t.p50), p99Ms: median(t.p99), bytesPerReply: t.bytes / Math.max(1, t.requests), cpuMsPerRequest: t.cpuMs / Math.max(1, t.requests) };
    };
    const gc1 = await apiGc();
    const service = summary(runs.service);
    const gzip = summary(runs.gzip);
    const floorResult = summary(runs.floor);
    const expressResult = summary(runs.express);
    const ratio = service.perSecond / floorResult.perSecond;
    const gzipRatio = gzip.perSecond / floorResult.perSecond;
    const gzipBytes = gzip.bytesPerReply / Math.max(1, service.bytesPerReply);
    const memory = await configMemory(b, hot.publicKeys.slice(0, 20));
    // Keys the reply budget answered as pending (a reply that waited 2 s for it): 0 unless the API fell behind.
    const heldBack = await metric(b.api.url, 'relay_projectconfig_keys_total', { result: 'held_back' });
    // Whether the polls took the config poll lane (src/http/config-poll-lane.ts) or Express's route.
    const laneAnswered = await metric(b.api.url, 'relay_projectconfig_poll_lane_total', { outcome: 'answered' });
    const laneHandedOver = await metric(b.api.url, 'relay_projectconfig_poll_lane_total', { outcome: 'handed_over' });
    const reply = `${KEYS_PER_HOT_REQUEST} keys, ${Math.round(service.bytesPerReply / 1024)} KiB per reply`;
    b.figures.push(
      { name: `hot path (${variant}): service throughput`, value: service.perSecond, unit: 'req/s', detail: `${reply}; p50 ${service.p50Ms.toFixed(1)} ms, p99 ${service.p99Ms.toFixed(1)} ms, ${service.errors} errors; ${heldBack} keys held back by the reply budget so far; polls so far answered in the poll lane ${laneAnswered}, handed to Express ${laneHandedOver}` },
      { name: `hot path (${variant}): floor throughput`, value: floorResult.perSecond, unit: 'req/s', detail: `p50 ${floorResult.p50Ms.toFixed(1)} ms, p99 ${floorResult.p99Ms.toFixed(1)} ms, ${floorResult.errors} errors` },
      { name: `hot path (${variant}): floor in Express, throughput`, value: expressResult.perSecond, unit: 'req/s', detail: `${(expressResult.perSecond / floorResult.perSecond).toFixed(2)} × floor: Express's own share of the gap` },
      { name: `hot path (${variant}): CPU per request, service`, value: service.cpuMsPerRequest, unit: 'ms', detail: `gzip ${gzip.cpuMsPerRequest.toFixed(3)} ms, floor ${floorResult.cpuMsPerRequest.toFixed(3)} ms, floor in Express ${expressResult.cpuMsPerRequest.toFixed(3)} ms (server process only); the API's major GCs in these rounds: ${gc1.count - gc0.count} taking ${(gc1.seconds - gc0.seconds).toFixed(2)} s` },
      variant === 'plain'
        ? { name: 'hot path (plain): service / floor', value: ratio, unit: '×', goal: '≥ 0.9', ok: ratio >= 0.9 }
        : { name: 'hot path (realistic): service / floor', value: ratio, unit: '×', detail: 'transfer-bound: see README' },
      { name: `hot path (${variant}): gzip replies, throughput / floor`, value: gzipRatio, unit: '×', detail: `${gzip.perSecond.toFixed(0)} req/s, p50 ${gzip.p50Ms.toFixed(1)} ms, ${gzip.errors} errors (the floor sends plain bytes)` },
      { name: `hot path (${variant}): gzip bytes per reply / plain`, value: gzipBytes, unit: '×', goal: '≤ 0.2', ok: gzipBytes <= 0.2, detail: `${Math.round(gzip.bytesPerReply / 1024)} KiB vs ${Math.round(service.bytesPerReply / 1024)} KiB` },
      { name: `hot path (${variant}): Redis memory per config`, value: memory.total, unit: 'B', detail: `config ${memory.config} B + rev ${memory.rev} B + pre-compressed piece ${memory.deflated} B (MEMORY USAGE, mean of 20)` },
    );
    if (revisionsFloor) {
      const revisions = summary(runs.revisions);
      const revisionsFloorResult = summary(runs.revisionsFloor);
      const revisionsRatio = revisions.perSecond / revisionsFloorResult.perSecond;
      b.figures.push(
        { name: 'hot path (revisions, 90 of 100 current): service', value: revisions.perSecond, unit: 'req/s', detail: `${Math.round(revisions.bytesPerReply / 1024)} KiB per reply; p50 ${revisions.p50Ms.toFixed(1)} ms, ${revisions.errors} errors; CPU ${revisions.cpuMsPerRequest.toFixed(3)} ms per request` },
        { name: 'hot path (revisions): floor doing the same two reads', value: revisionsFloorResult.perSecond, unit: 'req/s', detail: `p50 ${revisionsFloorResult.p50Ms.toFixed(1)} ms, ${revisionsFloorResult.errors} errors; CPU ${revisionsFloorResult.cpuMsPerRequest.toFixed(3)} ms per request` },
        { name: 'hot path (revisions): service / floor', value: revisionsRatio, unit: '×' },
      );
    }
  } finally {
    await Promise.all([floor.stop(), expressFloor.stop(), revisionsFloor?.stop()]);
  }
}

/** Mean `MEMORY USAGE` of a cached config's keys: the config, its rev and its pre-compressed piece. */
async function configMemory(b: Bench, publicKeys: readonly string[]): Promise<{ config: number; rev: number; deflated: number; total: number }> {
  const { redis, layout } = b.container;
  const mean = async (name: (k: string) => string) => {
    let sum = 0;
    for (const k of publicKeys) sum += Number((await redis.call('MEMORY', 'USAGE', name(k))) ?? 0);
    return Math.round(sum / Math.max(1, publicKeys.length));
  };
  const config = await mean((k) => layout.config(k));
  const rev = await mean((k) => layout.rev(k));
  const deflated = await mean((k) => layout.deflated(k));
  return { config, rev, deflated, total: config + rev + deflated };
}

async function coldFill(b: Bench): Promise<void> {
  const coldKeys = SIZES.coldOrgs * SIZES.coldProjects;
  log(`cold fill: seeding ${coldKeys} keys (${SIZES.coldOrgs} organizations × ${SIZES.coldProjects} projects × 1 key)`);
  const cold = await seed(b.container.orm.em.fork(), { orgs: SIZES.coldOrgs, projects: SIZES.coldProjects, keys: 1, slugPrefix: 'cold' });
  const buildsBefore = await b.builds();
  const heldBack = () => metric(b.api.url, 'relay_projectconfig_keys_total', { result: 'held_back' });
  const heldBack0 = await heldBack();
  const workerCpu0 = b.workers.reduce((sum, w) => sum + w.cpuMs(), 0);
  const machine0 = cpuSnapshot();
  const fillStarted = Date.now();
  await b.relay.pollAll(cold.publicKeys, { timeoutMs: 120_000 });
  const fillMs = Date.now() - fillStarted;
  const byProcess = cpuBetween(machine0, cpuSnapshot(), (pid, comm) => {
    if (pid === b.api.child.pid) return 'API';
    if (b.workers.some((w) => w.child.pid === pid)) return 'workers';
    if (pid === process.pid) return 'load generator';
    if (comm.startsWith('postgres')) return 'PostgreSQL';
    if (comm.startsWith('redis')) return 'Redis';
    return 'other';
  });
  const breakdown = [...byProcess].sort((a, b) => b[1] - a[1]).map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)} s`).join(', ');
  const machineMs = [...byProcess.values()].reduce((a, v) => a + v, 0);
  // CPU is steadier than wall-clock on a shared machine: both workers' user + system time.
  const workerCpuMs = b.workers.reduce((sum, w) => sum + w.cpuMs(), 0) - workerCpu0;
  const coldBuilds = (await b.builds()) - buildsBefore;
  const coldHeldBack = (await heldBack()) - heldBack0;
  b.cold = cold;
  b.figures.push(
    { name: `cold fill: ${coldKeys} keys, time to all configs`, value: seconds(fillMs), unit: 's', goal: '≤ 1.5 s', ok: fillMs <= 1500, detail: `workers' CPU ${(workerCpuMs / coldKeys).toFixed(3)} ms per key; ${coldHeldBack} cached keys held back by the reply budget` },
    { name: 'cold fill: CPU of the machine during the fill', value: seconds(machineMs), unit: 's', detail: `${breakdown}; ${cpus().length} cores × ${seconds(fillMs)} s = ${seconds(cpus().length * fillMs)} s available` },
    { name: 'cold fill: builds performed', value: coldBuilds, unit: 'builds', goal: `= ${coldKeys}`, ok: coldBuilds === coldKeys },
  );

  // SQL statements per build job at batch sizes 1, 50 and 500 (keys taken out of the cache).
  const perJob: Record<number, number> = {};
  for (const size of [1, 50, 500]) {
    const keys = cold.publicKeys.slice(0, size);
    await b.container.configCache.delete(keys);
    const queries0 = await b.workerSum('relay_projectconfig_job_sql_queries_sum');
    const jobs0 = await b.workerSum('relay_projectconfig_job_sql_queries_count');
    await b.relay.pollAll(keys, { batch: size });
    const queries1 = await b.workerSum('relay_projectconfig_job_sql_queries_sum');
    const jobs1 = await b.workerSum('relay_projectconfig_job_sql_queries_count');
    perJob[size] = (queries1 - queries0) / Math.max(1, jobs1 - jobs0);
  }
  const constant = perJob[1] === perJob[50] && perJob[50] === perJob[500];
  b.figures.push({ name: 'SQL statements per build job (1 / 50 / 500 keys)', value: perJob[500], unit: 'queries', detail: `${perJob[1]} / ${perJob[50]} / ${perJob[500]}`, goal: 'the same for every size', ok: constant });
}

async function invalidation(b: Bench): Promise<void> {
  log(`invalidation: ${SIZES.invalidationProjects} projects of one organization`);
  const big = await seed(b.container.orm.em.fork(), { orgs: 1, projects: SIZES.invalidationProjects, keys: 1, slugPrefix: 'inval' });
  await b.relay.pollAll(big.publicKeys);
  const newRelay = new BenchRelay(b.api.url, b.agent).publicKey;
  const workerCpu0 = b.workers.reduce((sum, w) => sum + w.cpuMs(), 0);
  const putDone = await b.admin.putTrustedRelays(big.organizations[0].slug, [{ publicKey: newRelay, name: 'bench relay', description: 'added by the benchmark' }]);
  const visibleAt = await waitUntil(async () => {
    const configs = await b.relay.pollAll(big.publicKeys);
    return [...configs.values()].every((c) => ((c as { config?: { trustedRelays?: string[] } }).config?.trustedRelays ?? []).includes(newRelay));
  }, 30_000);
  const ms = visibleAt - putDone;
  const workerCpuMs = b.workers.reduce((sum, w) => sum + w.cpuMs(), 0) - workerCpu0;
  b.figures.push({ name: `invalidation: ${SIZES.invalidationProjects} projects, PUT → all configs updated`, value: seconds(ms), unit: 's', goal: '≤ 2 s', ok: ms <= 2000, detail: `coalescing delay ${loadSettings().invalidationDelayMs} ms included; workers' CPU ${Math.round(workerCpuMs)} ms` });
}

async function dedupe(b: Bench): Promise<void> {
  log(`dedupe: ${SIZES.dedupePollers} pollers on ${SIZES.dedupeKeys} uncached keys`);
  const keys = await seed(b.container.orm.em.fork(), { orgs: 10, projects: SIZES.dedupeKeys / 10, keys: 1, slugPrefix: 'dedupe', bare: true });
  const pollers = await Promise.all(
    Array.from({ length: SIZES.dedupePollers }, async () => {
      const poller = new BenchRelay(b.api.url, b.agent);
      await poller.register();
      return poller;
    }),
  );
  const before = await b.builds();
  await Promise.all(pollers.map((p) => p.pollAll(keys.publicKeys)));
  const perKey = ((await b.builds()) - before) / SIZES.dedupeKeys;
  b.figures.push({ name: `dedupe: builds per key (${SIZES.dedupePollers} pollers)`, value: perKey, unit: 'builds/key', goal: '= 1', ok: perKey === 1 });
}

/** The storm's fill alone lasts at least this long (a shorter one is too short to trust on shared cores). */
const STORM_FILL_MIN_MS = 2000;
const STORM_FILL_MAX_KEYS = 10_000;

async function storm(b: Bench): Promise<void> {
  if (!b.cold) {
    log('storm: seeding and caching the keys to invalidate');
    b.cold = await seed(b.container.orm.em.fork(), { orgs: SIZES.coldOrgs, projects: SIZES.coldProjects, keys: 1, slugPrefix: 'cold' });
    await b.relay.pollAll(b.cold.publicKeys, { timeoutMs: 120_000 });
  }
  const stormed = b.cold;
  const repetitions = quick ? 1 : 3;
  // The fill must last long enough to trust (≥ 2 s alone): on a fast machine the default size
  // fills sooner, so a first fill alone sizes it (not in --quick).
  // Fresh keys to fill (10 organizations), and the time to fill them: the probe is measured as the fills are.
  const fillKeys = async (size: number, slugPrefix: string) => (await seed(b.container.orm.em.fork(), { orgs: 10, projects: size / 10, keys: 1, slugPrefix })).publicKeys;
  const timedFill = async (keys: string[]) => {
    const started = Date.now();
    await b.relay.pollAll(keys, { timeoutMs: 120_000 });
    return Date.now() - started;
  };
  let fillSize = SIZES.stormFill;
  if (!quick) {
    const probeMs = await timedFill(await fillKeys(fillSize, 'stormprobe'));
    if (probeMs < STORM_FILL_MIN_MS) fillSize = Math.min(STORM_FILL_MAX_KEYS, Math.ceil((fillSize * (STORM_FILL_MIN_MS * 1.25)) / probeMs / 500) * 500);
    log(`storm: ${SIZES.stormFill} keys filled alone in ${seconds(probeMs)} s; the fill is ${fillSize} keys`);
  }
  log(`storm: ${repetitions} × (cold fill of ${fillSize} keys alone, then during invalidation of ${stormed.publicKeys.length} cached keys)`);
  const invalidated = () => b.workerSum('relay_projectconfig_invalidations_total');
  const alone: number[] = [];
  const during: number[] = [];
  let stillRunning = 0;
  for (let rep = 0; rep < repetitions; rep++) {
    const aloneKeys = await fillKeys(fillSize, `alone${rep}`);
    const duringKeys = await fillKeys(fillSize, `storm${rep}`);
    alone.push(await timedFill(aloneKeys));
    // Every organization of the cached set changes; once the API has answered the PUTs and the
    // workers are recomputing, the fill starts (so it competes with invalidations, not with PUTs).
    const invalidatedBefore = await invalidated();
    await Promise.all(stormed.organizations.map((o, i) => b.admin.putSensitiveFields(o.slug, [`storm-${rep}-${i}`])));
    await waitUntil(async () => (await invalidated()) > invalidatedBefore, 30_000);
    during.push(await timedFill(duringKeys));
    if ((await invalidated()) - invalidatedBefore < stormed.organizations.length) stillRunning += 1;
    // Let this repetition's invalidations finish before the next one's fill alone.
    await waitUntil(async () => (await invalidated()) - invalidatedBefore >= stormed.organizations.length, 120_000).catch(() => undefined);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const aloneMs = median(alone);
  const stormMs = median(during);
  const ratio = stormMs / aloneMs;
  b.figures.push(
    { name: `storm: fill of ${fillSize} keys alone (median of ${repetitions})`, value: seconds(aloneMs), unit: 's', detail: alone.map((ms) => seconds(ms)).join(' / ') + ' s' + (!quick && aloneMs < STORM_FILL_MIN_MS ? `; under ${seconds(STORM_FILL_MIN_MS)} s (sized from a first fill, at most ${STORM_FILL_MAX_KEYS} keys): too short to trust` : '') },
    { name: `storm: same fill while ${stormed.publicKeys.length} cached keys are invalidated`, value: seconds(stormMs), unit: 's', detail: `${during.map((ms) => seconds(ms)).join(' / ')} s; invalidations still running at the end of ${stillRunning} of ${repetitions} fills` },
    { name: 'storm: fill during storm / alone', value: ratio, unit: '×', goal: '≤ 1.2', ok: ratio <= 1.2 },
  );
}

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
  const agent = keepAliveAgent(64);
  try {
    // The benchmark's own connection, to migrate and seed (as an operator's CLI would).
    container = await createContainer({ ...base, databaseUrl: database.url, redisKeyPrefix: prefix, logLevel: 'warn' }, 'cli', { logger: pino({ level: 'warn' }) });
    await applyMigrations(container.orm);

    log('starting 1 API and 2 workers');
    const api = await startProcess('api', 'workers/api.js', apiNodeOptions === undefined ? env : { ...env, NODE_OPTIONS: apiNodeOptions }, apiPort);
    procs.push(api);
    const workers: Proc[] = [];
    for (let i = 1; i <= 2; i++) {
      const port = await freePort();
      workers.push(await startProcess(`worker-${i}`, 'workers/worker.js', { ...env, WORKER_PORT: String(port), ...(workerNodeOptions === undefined ? {} : { NODE_OPTIONS: workerNodeOptions }) }, port));
    }
    procs.push(...workers);
    const workerSum = async (name: string, labels: Record<string, string> = {}) => (await Promise.all(workers.map((w) => metric(w.url, name, labels)))).reduce((a, c) => a + c, 0);
    const relay = new BenchRelay(api.url, agent);
    await relay.register();
    const b: Bench = {
      api,
      workers,
      container,
      relay,
      agent,
      admin: await adminClient(container, api.url),
      figures,
      builds: () => workerSum('relay_projectconfig_builds_total', { trigger: 'build' }),
      workerSum: (name) => workerSum(name),
    };
    // Where the API's memory is at a moment: resident, V8 heap (reserved), memory outside the heap (Buffers).
    const apiMemory = async () => {
      const mb = async (name: string) => ((await metric(api.url, name)) / 2 ** 20).toFixed(0);
      return `RSS ${await mb('process_resident_memory_bytes')}, heap ${await mb('nodejs_heap_size_total_bytes')}, external ${await mb('nodejs_external_memory_bytes')} MB`;
    };
    const memory: string[] = [`at start ${api.peakRssMb().toFixed(0)} MB`];
    const scenarios: [string, () => Promise<void>][] = [
      ['hot', () => hotPath(b, env, base.redisUrl, prefix, 'plain')],
      ...(quick ? [] : ([['hot', () => hotPath(b, env, base.redisUrl, prefix, 'realistic')]] as [string, () => Promise<void>][])),
      ['cold', () => coldFill(b)],
      ['invalidation', () => invalidation(b)],
      ['dedupe', () => dedupe(b)],
      ['storm', () => storm(b)],
      ['outage', async () => void figures.push(...(await outageScenario(agent, { changes: 100, downMs: 5000, log })))],
      ...(cluster ? ([['cluster', async () => void figures.push(...(await clusterScenario({ quick, log })))]] as [string, () => Promise<void>][]) : []),
    ];
    for (const [name, run] of scenarios) {
      if (only && !only.has(name)) continue;
      await run();
      memory.push(`after ${name} ${api.peakRssMb().toFixed(0)} MB (then ${await apiMemory()})`);
    }

    const apiRss = api.peakRssMb();
    const workerRss = Math.max(...workers.map((w) => w.peakRssMb()));
    figures.push(
      { name: 'peak RSS: API', value: apiRss, unit: 'MB', goal: '≤ 200 MB', ok: apiRss <= 200, detail: `peak ${memory.join('; ')}` },
      { name: 'peak RSS: worker (largest of 2)', value: workerRss, unit: 'MB', goal: '≤ 250 MB', ok: workerRss <= 250 },
    );
  } finally {
    agent.destroy();
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    if (container) await deleteKeysWithPrefix(container.redis, prefix).catch(() => undefined);
    await container?.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
  }

  const result = { date: new Date().toISOString(), quick, only: only ? [...only] : null, cores: cpus().length, node: process.version, sizes: SIZES, figures };
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
