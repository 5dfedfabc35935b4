import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main';
import { seed } from '../src/db/seed';
import { startWorkers } from '../src/jobs/worker-runtime';
import { upgradeJobId } from '../src/queues/recompute-all.queue';
import { CONFIG_FORMAT } from '../src/relay-config/project-config';
import { scheduleUpgradeRecompute } from '../src/services/configs';
import { createCachedConfigScan } from '../src/caches/config-format';
import { cacheConfigs, configOf, eventually } from './support/admin';
import { startTestServer, type TestServer } from './support/server';
import { withoutVolatile } from './support/settle';

/**
 * Upgrade without a gap (issue 10, part 7): configs cached by an older version are recomputed in
 * place after the upgrade, in the background, and no config key is ever missing meanwhile.
 */

let server: TestServer;
let publicKeys: string[];

beforeAll(async () => {
  server = await startTestServer({}, { workers: false });
  // Realistic configs, more keys than one recompute chunk (100).
  const seeded = await seed(server.container.orm.em.fork(), { orgs: 1, projects: 3, keys: 50, slugPrefix: 'upgrade' });
  publicKeys = seeded.publicKeys;
}, 60_000);

afterAll(async () => {
  await server.close();
});

const redis = () => server.container.redis;
const layout = () => server.container.layout;

/** Rewrites every cached config as an older version would have stored it: no features, an old rev. */
async function ageCachedConfigs(): Promise<void> {
  for (const publicKey of publicKeys) {
    const config = JSON.parse((await redis().get(layout().config(publicKey)))!);
    config.rev = 'old-rev';
    delete config.config.features;
    await redis().set(layout().config(publicKey), JSON.stringify(config), 'KEEPTTL');
    await redis().set(layout().rev(publicKey), 'old-rev', 'KEEPTTL');
  }
}

/** Reads every config key over and over until stopped; counts reads that found no config. */
function pollConfigKeys(): { stop(): Promise<{ polls: number; missing: number }> } {
  let running = true;
  let polls = 0;
  let missing = 0;
  const loop = (async () => {
    while (running) {
      const values = await redis().mget(publicKeys.map((k) => layout().config(k)));
      polls += 1;
      missing += values.filter((v) => v === null).length;
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { polls, missing };
    },
  };
}

const allRecomputed = async () => {
  const values = await redis().mget(publicKeys.map((k) => layout().config(k)));
  return values.every((v) => v !== null && JSON.parse(v).rev !== 'old-rev' && Array.isArray(JSON.parse(v).config.features));
};

describe('upgrade without a gap', () => {
  it('workers that find an older config-format stamp recompute every cached config in place (never missing), then stamp the new format', async () => {
    await cacheConfigs(server.container, publicKeys);
    await ageCachedConfigs();
    await redis().set(layout().configFormat, String(CONFIG_FORMAT - 1));

    const poller = pollConfigKeys();
    const workers = startWorkers(server.container);
    try {
      await eventually(allRecomputed, 30_000);
      await eventually(async () => (await redis().get(layout().configFormat)) === String(CONFIG_FORMAT), 10_000);
    } finally {
      await workers.close();
    }
    const { polls, missing } = await poller.stop();
    expect(polls).toBeGreaterThan(5);
    expect(missing).toBe(0);

    // What was rewritten is what a build computes now, and its rev key moved with it.
    for (const publicKey of [publicKeys[0], publicKeys.at(-1)!]) {
      const cached = JSON.parse((await redis().get(layout().config(publicKey)))!);
      expect(withoutVolatile(cached)).toEqual(withoutVolatile(JSON.parse(JSON.stringify(await configOf(server.container, publicKey)))));
      expect(await redis().get(layout().rev(publicKey))).toBe(cached.rev);
    }
  }, 60_000);

  it('a stamp of this format or a newer one (an older worker starting mid-rollout) schedules nothing; no stamp or an older one schedules one job per format', async () => {
    const queues = server.container.queues;
    // The earlier test's finished job stays in the history (JOBS_KEEP_COMPLETED_S) under the same id.
    await queues['recompute-all'].obliterate({ force: true });
    const cachedConfigs = createCachedConfigScan(redis(), layout());
    await redis().set(layout().configFormat, String(CONFIG_FORMAT));
    expect(await scheduleUpgradeRecompute({ queues, cachedConfigs })).toBe(false);
    await redis().set(layout().configFormat, String(CONFIG_FORMAT + 1));
    expect(await scheduleUpgradeRecompute({ queues, cachedConfigs })).toBe(false);

    await redis().del(layout().configFormat);
    expect(await scheduleUpgradeRecompute({ queues, cachedConfigs })).toBe(true);
    // A second worker of the same deploy finds the same old stamp: the same job id, one job.
    expect(await scheduleUpgradeRecompute({ queues, cachedConfigs })).toBe(true);
    const jobs = await queues['recompute-all'].getJobs(['waiting', 'delayed', 'active']);
    expect(jobs.map((j) => [j.id, j.data])).toEqual([[upgradeJobId(), { trigger: 'upgrade', format: CONFIG_FORMAT }]]);
    await queues['recompute-all'].obliterate({ force: true });
    await redis().set(layout().configFormat, String(CONFIG_FORMAT));
  });

  it('`configs invalidate --all` recomputes every cached config in place through the same job, deleting none', async () => {
    await cacheConfigs(server.container, publicKeys);
    await ageCachedConfigs();
    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: server.container.settings.databaseUrl,
      REDIS_URL: server.container.settings.redisUrl,
      REDIS_KEY_PREFIX: server.container.settings.redisKeyPrefix,
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    let stdout = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
    let code: number;
    try {
      code = await main(['configs', 'invalidate', '--all']);
    } finally {
      out.mockRestore();
      process.env = saved;
    }
    expect(code).toBe(0);
    expect(stdout).toMatch(/^recomputation of every cached config enqueued \(job \d+\): configs are rewritten in place after builds, none is deleted\n$/);
    const jobs = await server.container.queues['recompute-all'].getJobs(['waiting']);
    expect(jobs.map((j) => j.data)).toEqual([{ trigger: 'cli', format: null }]);

    const poller = pollConfigKeys();
    const workers = startWorkers(server.container);
    try {
      await eventually(allRecomputed, 30_000);
    } finally {
      await workers.close();
    }
    const { polls, missing } = await poller.stop();
    expect(polls).toBeGreaterThan(5);
    expect(missing).toBe(0);
    // The CLI's walk stamps no format: only an upgrade's does.
    expect(await redis().get(layout().configFormat)).toBe(String(CONFIG_FORMAT));
  }, 60_000);
});
