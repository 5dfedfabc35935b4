import type { Agent } from 'node:http';
import pino from 'pino';
import { loadSettings } from '../src/config/settings';
import { deleteKeysWithPrefix } from '../src/caches/redis';
import { createContainer } from '../src/container';
import { applyMigrations } from '../src/db/orm';
import { seed } from '../src/db/seed';
import { verifyCachedConfigs } from '../src/services/config-drift';
import { TcpProxy } from '../test/support/tcp-proxy';
import { adminClient } from './admin';
import { createDatabase, freePort, startProcess, type Proc } from './fleet';
import { BenchRelay } from './load';
import type { Figure } from './report';

/**
 * Changes during a Redis outage: an API and a worker of their own (own database and prefix, so
 * the main fleet's drainers cannot publish early) reach Redis through a TCP proxy that is cut for
 * `downMs`; `changes` organization settings are changed meanwhile (every PUT answers 2xx). The
 * figure is the time from Redis's return until `configs verify --all` finds no drift.
 */
export async function outageScenario(agent: Agent, options: { changes: number; downMs: number; log(message: string): void }): Promise<Figure[]> {
  const base = loadSettings();
  const runId = `${Date.now().toString(36)}`;
  const database = await createDatabase(base.databaseUrl, `relaycfg_bench_outage_${runId}`);
  const prefix = `bench-outage:${runId}:`;
  const target = new URL(base.redisUrl);
  const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
  const viaProxy = new URL(base.redisUrl);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const procs: Proc[] = [];
  const container = await createContainer({ ...base, databaseUrl: database.url, redisKeyPrefix: prefix, logLevel: 'warn' }, 'cli', { logger: pino({ level: 'warn' }) });
  try {
    await applyMigrations(container.orm);
    const orgs = 10;
    const seeded = await seed(container.orm.em.fork(), { orgs, projects: 10, keys: 1, slugPrefix: 'outage' });
    const apiPort = await freePort();
    const workerPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      SYSTEM_SECRET_KEY: `bench-${runId}-secret-not-for-production`,
      DATABASE_URL: database.url,
      REDIS_URL: viaProxy.toString(),
      REDIS_KEY_PREFIX: prefix,
      INTERNAL_SYSTEM_IPS: '127.0.0.1/32',
      LOG_LEVEL: 'error',
    };
    procs.push(await startProcess('outage-api', 'workers/api.js', { ...env, PORT: String(apiPort) }, apiPort));
    procs.push(await startProcess('outage-worker', 'workers/worker.js', { ...env, WORKER_PORT: String(workerPort) }, workerPort));
    const relay = new BenchRelay(procs[0].url, agent);
    await relay.register();
    await relay.pollAll(seeded.publicKeys);
    const admin = await adminClient(container, procs[0].url);

    options.log(`outage: Redis cut for ${options.downMs / 1000} s while ${options.changes} changes are made`);
    const cutAt = Date.now();
    proxy.cut();
    for (let i = 0; i < options.changes; i += 1) await admin.putSensitiveFields(seeded.organizations[i % orgs].slug, [`outage-${i}`]);
    const changesMs = Date.now() - cutAt;
    await new Promise((r) => setTimeout(r, Math.max(0, options.downMs - changesMs)));
    proxy.restore();
    const restoredAt = Date.now();
    const deadline = restoredAt + 60_000;
    let drift = -1;
    for (;;) {
      drift = (await verifyCachedConfigs(container, { all: true })).drift.length;
      if (drift === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = Date.now() - restoredAt;
    return [
      {
        name: `outage: ${options.changes} changes while Redis is down ${options.downMs / 1000} s, return → no drift`,
        value: ms / 1000,
        unit: 's',
        goal: '≤ 2 s',
        ok: drift === 0 && ms <= 2000,
        detail: drift === 0 ? `changes took ${changesMs} ms, all answered 2xx` : `${drift} configs still differ after 60 s`,
      },
    ];
  } finally {
    proxy.restore();
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    await proxy.close();
    await deleteKeysWithPrefix(container.redis, prefix).catch(() => undefined);
    await container.close().catch(() => undefined);
    await database.drop().catch(() => undefined);
  }
}
