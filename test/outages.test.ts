import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed, type SeedResult } from '../src/db/seed';
import { freshDatabaseUrl, testSettings } from './support/harness';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { TcpProxy } from './support/tcp-proxy';

/**
 * Outages, with the real PostgreSQL and Redis behind TCP proxies that the test cuts: only this
 * file's server loses them.
 */
describe('Redis or PostgreSQL unavailable', () => {
  let redisProxy: TcpProxy;
  let pgProxy: TcpProxy;
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;

  beforeAll(async () => {
    // The proxies stand in front of the services the settings name, on ports the system picks.
    const { redisUrl } = testSettings();
    const databaseUrl = new URL(await freshDatabaseUrl());
    const redisTarget = new URL(redisUrl);
    redisProxy = await new TcpProxy(redisTarget.hostname, Number(redisTarget.port || 6379)).start();
    pgProxy = await new TcpProxy(databaseUrl.hostname, Number(databaseUrl.port || 5432)).start();
    databaseUrl.hostname = '127.0.0.1';
    databaseUrl.port = String(pgProxy.port);
    redisTarget.hostname = '127.0.0.1';
    redisTarget.port = String(redisProxy.port);
    server = await startTestServer({ REDIS_URL: redisTarget.toString(), DATABASE_URL: databaseUrl.toString() });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 1, projects: 4, keys: 1 });
  });
  afterAll(async () => {
    redisProxy.restore();
    pgProxy.restore();
    await server.close();
    await redisProxy.close();
    await pgProxy.close();
  });

  it('answers 503 JSON within a second while Redis is cut, and recovers by itself', async () => {
    const keys = seeded.publicKeys.slice(0, 2);
    await relay.pollConfigs(keys);
    redisProxy.cut();
    const started = Date.now();
    const response = await relay.projectConfigs({ publicKeys: keys });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ detail: expect.stringContaining('Redis') });
    expect(response.headers.get('retry-after')).toBe('1');
    const ready = await fetch(new URL('/readyz', server.url));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { redis: false, postgres: true } });

    redisProxy.restore();
    await expect.poll(async () => (await relay.projectConfigs({ publicKeys: keys })).status, { timeout: 15_000, interval: 200 }).toBe(200);
    const after = await relay.projectConfigs({ publicKeys: keys });
    expect(Object.keys(after.body.configs ?? {}).sort()).toEqual([...keys].sort());
  });

  it('keeps answering v3 from the cache while PostgreSQL is cut; synchronous versions answer 503', async () => {
    const cached = seeded.publicKeys.slice(2, 4);
    await relay.pollConfigs(cached);
    pgProxy.cut();
    try {
      const v3 = await relay.projectConfigs({ publicKeys: cached });
      expect(v3.status).toBe(200);
      expect(Object.keys(v3.body.configs ?? {}).sort()).toEqual([...cached].sort());
      const started = Date.now();
      const v2 = await relay.projectConfigs({ publicKeys: cached }, '2');
      expect(v2.status).toBe(503);
      expect(v2.body).toEqual({ detail: expect.stringContaining('PostgreSQL') });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      pgProxy.restore();
    }
    await expect.poll(async () => (await relay.projectConfigs({ publicKeys: cached }, '2')).status, { timeout: 15_000, interval: 200 }).toBe(200);
  });
});
