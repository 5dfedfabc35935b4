import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { deleteKeysWithPrefix, type RedisClient } from '../src/caches/redis';
import { loadSettings } from '../src/config/settings';
import { createContainer } from '../src/container';
import { computeOptionsOf, computeProjectConfigs } from '../src/db/compute-configs';
import { applyMigrations } from '../src/db/orm';
import { seed } from '../src/db/seed';
import { createDatabase } from './fleet';

/**
 * `node dist/bench/build-job.js [repetitions]`: the CPU time of one 500-key build job (the cold
 * fill's data: 5 organizations × 100 projects with options), in one process, without HTTP or
 * queues: the batched load and build (`computeProjectConfigs`) and the cache write
 * (`writeIfCurrent`, which also compresses each reply entry). CPU time of this process only, so
 * PostgreSQL's and Redis's own work is not in it; the median of the repetitions is printed.
 * With `BUILD_JOB_PROFILE=<file>`, a CPU profile of the measured jobs only (not the seeding).
 * Also prints how long Redis ran the jobs' write scripts (its SLOWLOG, lowered for the run and
 * restored): Redis runs one command at a time, so every poll waits behind a running script.
 */

const repetitions = Number(process.argv[2] ?? 20);
const profileFile = process.env.BUILD_JOB_PROFILE;

function post(session: Session, method: string): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))));
}

/**
 * Lowers Redis's SLOWLOG threshold to 0.2 ms (the log is server-wide); `begin` empties it (after
 * the warm-up jobs), `durations` returns the runs (µs) of scripts on this run's keys since then,
 * and `restore` puts the server's settings back (also when the run fails).
 */
async function watchScripts(redis: RedisClient, keyPrefix: string) {
  const setting = async (name: string) => (await redis.config('GET', name))[1];
  const saved = { threshold: await setting('slowlog-log-slower-than'), length: await setting('slowlog-max-len') };
  await redis.config('SET', 'slowlog-log-slower-than', '200');
  await redis.config('SET', 'slowlog-max-len', '10000');
  return {
    begin: () => redis.slowlog('RESET'),
    async durations(): Promise<number[]> {
      const entries = (await redis.slowlog('GET', 10000)) as [number, number, number, (string | Buffer)[]][];
      // EVALSHA <sha> <numkeys> <first key> …: ours name this run's keys.
      return entries.filter((e) => String(e[3][0]).toLowerCase().startsWith('eval') && String(e[3][3] ?? '').startsWith(keyPrefix)).map((e) => e[2]);
    },
    async restore() {
      await redis.config('SET', 'slowlog-log-slower-than', saved.threshold);
      await redis.config('SET', 'slowlog-max-len', saved.length);
    },
  };
}

async function main(): Promise<void> {
  const base = loadSettings();
  const runId = Date.now().toString(36);
  const database = await createDatabase(base.databaseUrl, `relaycfg_buildjob_${runId}`);
  const prefix = `buildjob:${runId}:`;
  const container = await createContainer({ ...base, databaseUrl: database.url, redisKeyPrefix: prefix, logLevel: 'warn' }, 'cli', { logger: pino({ level: 'warn' }) });
  let slowlog: Awaited<ReturnType<typeof watchScripts>> | null = null;
  try {
    await applyMigrations(container.orm);
    const seeded = await seed(container.orm.em.fork(), { orgs: 5, projects: 100, keys: 1, slugPrefix: 'job' });
    const options = computeOptionsOf(container.settings);
    const samples: { compute: number; write: number; wall: number; bytes: number }[] = [];
    slowlog = await watchScripts(container.redis, prefix);
    const session = profileFile ? new Session() : null;
    if (session) {
      session.connect();
      await post(session, 'Profiler.enable');
      await post(session, 'Profiler.start');
    }
    for (let i = 0; i < repetitions + 3; i++) {
      // The first runs warm the JIT up.
      if (i === 3) await slowlog.begin();
      const wall0 = performance.now();
      const cpu0 = process.cpuUsage();
      const startedAt = await container.configCache.generation();
      const computed = await computeProjectConfigs(container.orm.em.fork(), seeded.publicKeys, options);
      const cpu1 = process.cpuUsage(cpu0);
      await container.configCache.writeIfCurrent(computed.configs, startedAt, 3600, null);
      const cpu2 = process.cpuUsage(cpu0);
      const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
      const bytes = computed.configs.reduce((sum, c) => sum + c.json.length, 0);
      if (i >= 3) samples.push({ compute: ms(cpu1), write: ms(cpu2) - ms(cpu1), wall: performance.now() - wall0, bytes });
    }
    if (session) {
      const { profile } = (await post(session, 'Profiler.stop')) as { profile: unknown };
      writeFileSync(profileFile as string, JSON.stringify(profile));
      session.disconnect();
    }
    const scripts = await slowlog.durations();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const compute = median(samples.map((s) => s.compute));
    const write = median(samples.map((s) => s.write));
    process.stdout.write(
      `500-key build job, median of ${repetitions}: CPU ${(compute + write).toFixed(1)} ms ` +
        `(load + build ${compute.toFixed(1)} ms, write ${write.toFixed(1)} ms), ` +
        `${((compute + write) / seeded.publicKeys.length).toFixed(3)} ms per key; wall ${median(samples.map((s) => s.wall)).toFixed(1)} ms; ` +
        `${Math.round(samples[0].bytes / seeded.publicKeys.length)} B per config\n` +
        (scripts.length === 0
          ? 'write scripts in Redis: none ran 0.2 ms or longer\n'
          : `write scripts in Redis that ran ≥ 0.2 ms (SLOWLOG): ${(scripts.length / repetitions).toFixed(1)} per job, median ${(median(scripts) / 1000).toFixed(1)} ms, longest ${(Math.max(...scripts) / 1000).toFixed(1)} ms\n`),
    );
  } finally {
    await slowlog?.restore().catch(() => undefined);
    await deleteKeysWithPrefix(container.redis, prefix).catch(() => undefined);
    await container.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
