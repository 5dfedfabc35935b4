import { randomUUID } from 'node:crypto';
import express from 'express';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelayKeyCache } from '../src/caches/relay-key-cache';
import { Relay, RelayUsage } from '../src/db/entities';
import { initOrm } from '../src/db/orm';
import { countQueries } from '../src/db/query-counter';
import { errorHandler } from '../src/http/error-handler';
import { closeServer, listen } from '../src/http/server';
import { RELAY_PRUNE_EVERY_MS, RELAY_PRUNE_SCHEDULER } from '../src/queues/relay-prune.queue';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import { publishRelayKeys } from '../src/services/relays';
import { freshDatabaseUrl, testContainer } from './support/harness';
import { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';

const DAY_MS = 24 * 3600 * 1000;

describe('relay prune job', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RELAY_PRUNE_AFTER_DAYS: '30' }, { workers: { queues: ['relay-prune'] } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('is scheduled hourly by the worker', async () => {
    await expect.poll(async () => (await server.container.queues['relay-prune'].getJobSchedulers()).map((s) => [s.key, s.every]), { timeout: 10_000 }).toEqual([[RELAY_PRUNE_SCHEDULER, RELAY_PRUNE_EVERY_MS]]);
  });

  it('removes a relay not seen for longer than RELAY_PRUNE_AFTER_DAYS, whose key then stops authenticating; a recent one stays', async () => {
    const old = new TestRelay(server.url);
    const recent = new TestRelay(server.url);
    await old.register();
    await recent.register();
    const em = server.container.orm.em.fork();
    const longAgo = new Date(Date.now() - 31 * DAY_MS);
    await em.nativeUpdate(Relay, { relayId: old.relayId }, { lastSeen: longAgo });
    await em.nativeUpdate(RelayUsage, { relayId: old.relayId }, { lastSeen: longAgo });
    // A version the recent relay no longer runs ages out on its own.
    await em.insert(RelayUsage, { relayId: recent.relayId, version: '23.1.0', publicKey: recent.publicKey, firstSeen: longAgo, lastSeen: longAgo });
    const published = createRelayKeyCache(server.container.redis, server.container.layout);
    expect(await published.get(old.relayId)).not.toBeNull();

    await server.container.queues['relay-prune'].add('prune-relays', {});
    await expect.poll(() => server.container.orm.em.fork().count(Relay, { relayId: old.relayId }), { timeout: 10_000 }).toBe(0);

    // The key leaves Redis through the outbox, right after the rows are gone.
    await expect.poll(() => createRelayKeyCache(server.container.redis, server.container.layout, { positiveTtlMs: 0, negativeTtlMs: 0, maxEntries: 10 }).get(old.relayId), { timeout: 10_000 }).toBeNull();
    const refused = await old.post('/api/0/relays/publickeys/', { relay_ids: [] });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ detail: 'Unknown relay' });
    await expect.poll(() => server.container.orm.em.fork().count(RelayUsage, { relayId: old.relayId }), { timeout: 10_000 }).toBe(0);

    expect((await recent.post('/api/0/relays/publickeys/', { relay_ids: [] })).status).toBe(200);
    // The job ages usage rows out after it removed the relays: wait for it to finish.
    await expect.poll(async () => (await server.container.orm.em.fork().find(RelayUsage, { relayId: recent.relayId })).map((u) => u.version), { timeout: 10_000 }).toEqual(['24.11.0']);
    // A pruned relay simply registers again.
    await old.register();
    expect((await old.post('/api/0/relays/publickeys/', { relay_ids: [] })).status).toBe(200);
  });
});

describe('relay key publication at start', () => {
  it('publishes every relay a page at a time, also when there are more than one page', async () => {
    const container = await testContainer({}, 'api');
    try {
      const now = new Date();
      const relays = Array.from({ length: 2345 }, () => ({ relayId: randomUUID(), publicKey: generateRelayKeyPair().public, firstSeen: now, lastSeen: now }));
      await container.orm.em.fork().insertMany(Relay, relays);

      const { result, queries } = await countQueries(() => publishRelayKeys(container));
      expect(result).toBe(2345);
      expect(queries).toBe(3);
      const keys = createRelayKeyCache(container.redis, container.layout);
      for (const relay of relays) expect((await keys.get(relay.relayId))?.publicKey).toBe(relay.publicKey);

      // Small pages reach the last relay too.
      expect(await publishRelayKeys(container, 7)).toBe(2345);
    } finally {
      await container.close();
    }
  });
});

describe('a failing SQL statement in the logs', () => {
  it('appears in full at most once: the ORM line and the error line are clipped', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const orm = await initOrm({ databaseUrl: await freshDatabaseUrl() }, logger);
    const app = express();
    const value = `24.11.0-${'x'.repeat(5000)}`;
    app.post('/fail', async () => {
      await orm.em.fork().insert(RelayUsage, { relayId: randomUUID(), version: value, publicKey: null, firstSeen: new Date(), lastSeen: new Date() });
    });
    app.use(errorHandler(logger));
    const server = await listen(app, 0, '127.0.0.1');
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/fail`, { method: 'POST' });
      expect(response.status).toBe(500);
      const logged = lines.join('\n');
      expect(logged).toContain('value too long');
      expect(logged.split('x'.repeat(5000)).length - 1).toBe(0);
      expect(logged.length).toBeLessThan(5000);
    } finally {
      await closeServer(server, 1000);
      await orm.close(true);
    }
  });
});
