import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { Relay, SystemOption } from '../src/db/entities';
import { SYSTEM_SECRET_OPTION } from '../src/db/system-secret';
import { createApp } from '../src/http/app';
import { closeServer, listen } from '../src/http/server';
import { createRegistrationToken } from '../src/relay-auth/registration-token';
import { freshDatabaseUrl, isolatedEnv, testContainer } from './support/harness';
import { TestRelay } from './support/relay-client';
import { TcpProxy } from './support/tcp-proxy';

/**
 * The registration-token secret is never a value from the source: unset, it is generated once,
 * kept in PostgreSQL and shared by every replica; a configured SYSTEM_SECRET_KEY wins.
 */

/** The development secret earlier versions used whenever SYSTEM_SECRET_KEY was unset. */
const FORMER_BUILT_IN_SECRET = 'relay-config-server-development-secret-do-not-use-in-production';
const CHALLENGE = '/api/0/relays/register/challenge/';
const RESPONSE = '/api/0/relays/register/response/';

interface Api {
  container: Container;
  url: string;
  close(): Promise<void>;
}

async function startApi(env: Record<string, string>): Promise<Api> {
  const container = await testContainer(env, 'api');
  const server: Server = await listen(createApp(container), 0, '127.0.0.1');
  return {
    container,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await closeServer(server, 1000);
      await container.close();
    },
  };
}

const publicKeysOf = (relay: TestRelay) => relay.post<{ relays: Record<string, unknown> }>('/api/0/relays/publickeys/', { relay_ids: [relay.relayId] });

describe('system secret without SYSTEM_SECRET_KEY', () => {
  let env: Record<string, string>;
  let first: Api;
  let second: Api;

  beforeAll(async () => {
    env = await isolatedEnv();
    [first, second] = await Promise.all([startApi(env), startApi(env)]);
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it('generates one secret for all replicas on the same database, concurrently, and keeps it in PostgreSQL', async () => {
    expect(first.container.settings.systemSecretKey).toBeNull();
    const [a, b] = await Promise.all([first.container.systemSecret(), second.container.systemSecret()]);
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{96}$/);
    expect(a).not.toBe(FORMER_BUILT_IN_SECRET);
    const rows = await first.container.orm.em.fork().find(SystemOption, {});
    expect(rows).toEqual([expect.objectContaining({ key: SYSTEM_SECRET_OPTION, value: a })]);

    // A challenge answered by one replica completes at the other.
    const relay = new TestRelay(first.url);
    const challenge = await relay.post<{ token: string }>(CHALLENGE, { relay_id: relay.relayId, public_key: relay.publicKey, version: '24.11.0' });
    expect(challenge.status).toBe(200);
    const atSecond = new TestRelay(second.url, { relayId: relay.relayId, secret: relay.secret });
    expect((await atSecond.post(RESPONSE, { relay_id: relay.relayId, token: challenge.body.token, version: '24.11.0' })).status).toBe(200);
  });

  it('refuses a token forged with the former built-in secret: no re-keying of a registered relay, no registration of a new one', async () => {
    const victim = new TestRelay(first.url);
    await victim.register();
    const attacker = new TestRelay(first.url, { relayId: victim.relayId });
    const forged = createRegistrationToken(FORMER_BUILT_IN_SECRET, victim.relayId, attacker.publicKey);
    const rekey = await attacker.post(RESPONSE, { relay_id: victim.relayId, token: forged, version: '24.11.0' });
    expect(rekey.status).toBe(400);
    expect(rekey.body).toEqual({ detail: 'Invalid registration token' });
    expect((await publicKeysOf(victim)).status).toBe(200);

    const newcomer = new TestRelay(first.url);
    const forgedNew = createRegistrationToken(FORMER_BUILT_IN_SECRET, newcomer.relayId, newcomer.publicKey);
    expect((await newcomer.post(RESPONSE, { relay_id: newcomer.relayId, token: forgedNew, version: '24.11.0' })).status).toBe(400);
    expect(await first.container.orm.em.fork().count(Relay, { relayId: newcomer.relayId })).toBe(0);
  });
});

describe('system secret with SYSTEM_SECRET_KEY', () => {
  let api: Api;
  const configured = 'operator-chosen-secret-0123456789abcdef0123456789abcdef';
  beforeAll(async () => {
    api = await startApi({ SYSTEM_SECRET_KEY: configured });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('signs and checks tokens with the configured secret and stores none', async () => {
    expect(await api.container.systemSecret()).toBe(configured);
    const relay = new TestRelay(api.url);
    const token = createRegistrationToken(configured, relay.relayId, relay.publicKey);
    expect((await relay.post(RESPONSE, { relay_id: relay.relayId, token, version: '24.11.0' })).status).toBe(200);
    await relay.register();
    expect(await api.container.orm.em.fork().count(SystemOption, {})).toBe(0);
  });
});

describe('system secret while PostgreSQL is down', () => {
  let pgProxy: TcpProxy;
  let api: Api;
  beforeAll(async () => {
    pgProxy = await new TcpProxy('127.0.0.1', 5432).start();
    pgProxy.cut();
    const databaseUrl = new URL(await freshDatabaseUrl());
    databaseUrl.port = String(pgProxy.port);
    // Starting with PostgreSQL down must work: the secret is only needed at the first registration.
    api = await startApi({ DATABASE_URL: databaseUrl.toString() });
  });
  afterAll(async () => {
    pgProxy.restore();
    await api?.close();
    await pgProxy.close();
  });

  it('answers a registration with 503 JSON, then registers once PostgreSQL is back', async () => {
    const relay = new TestRelay(api.url);
    const token = createRegistrationToken('any', relay.relayId, relay.publicKey);
    const response = await relay.post(RESPONSE, { relay_id: relay.relayId, token, version: '24.11.0' });
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ detail: expect.stringContaining('PostgreSQL') });

    pgProxy.restore();
    await expect.poll(async () => (await relay.post(CHALLENGE, { relay_id: relay.relayId, public_key: relay.publicKey, version: '24.11.0' })).status, { timeout: 15_000, interval: 200 }).toBe(200);
    await relay.register();
    expect((await publicKeysOf(relay)).status).toBe(200);
  });
});
