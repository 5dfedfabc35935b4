import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitBucket } from '../src/caches/registration-rate-limit';
import type { Container } from '../src/container';
import { Relay, RelayUsage } from '../src/db/entities';
import { createApp } from '../src/http/app';
import { closeServer, listen } from '../src/http/server';
import { createRegistrationToken } from '../src/relay-auth/registration-token';
import { testContainer } from './support/harness';
import { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';

const CHALLENGE = '/api/0/relays/register/challenge/';
const RESPONSE = '/api/0/relays/register/response/';

describe('relay registration', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({}, { workers: false });
  });
  afterAll(async () => {
    await server.close();
  });

  const challengeBody = (relay: TestRelay, overrides: Record<string, unknown> = {}) => ({ relay_id: relay.relayId, public_key: relay.publicKey, version: '24.11.0', ...overrides });

  it('registers a new relay: Relay and RelayUsage rows, then signed calls work', async () => {
    const relay = new TestRelay(server.url);
    await relay.register();
    const em = server.container.orm.em.fork();
    expect(await em.findOneOrFail(Relay, { relayId: relay.relayId })).toMatchObject({ publicKey: relay.publicKey });
    const usage = await em.findOneOrFail(RelayUsage, { relayId: relay.relayId, version: '24.11.0' });
    // A non-internal relay is registered but gets no configs (registration alone grants nothing).
    const configs = await relay.projectConfigs({ publicKeys: [] });
    expect(configs.status).toBe(403);
    expect(configs.body).toBe('Relay unauthorized for config information');

    await new Promise((r) => setTimeout(r, 20));
    await relay.register();
    const again = await server.container.orm.em.fork().findOneOrFail(RelayUsage, { relayId: relay.relayId, version: '24.11.0' });
    expect(again.firstSeen.getTime()).toBe(usage.firstSeen.getTime());
    expect(again.lastSeen.getTime()).toBeGreaterThan(usage.lastSeen.getTime());
    expect(await server.container.orm.em.fork().count(RelayUsage, { relayId: relay.relayId })).toBe(1);
  });

  it('answers challenge errors in Sentry\'s order and wording', async () => {
    const relay = new TestRelay(server.url);
    const cases: [unknown, Record<string, unknown>, number, unknown][] = [
      ['{not json', {}, 400, { detail: 'No valid json body' }],
      [challengeBody(relay, { relay_id: 'nope' }), {}, 400, { relay_id: ['Must be a valid UUID.'] }],
      [{ relay_id: relay.relayId, version: '24.11.0' }, {}, 400, { public_key: ['This field is required.'] }],
      [challengeBody(relay), { sign: false }, 400, { detail: 'Missing relay signature' }],
      [challengeBody(relay), { headers: { 'x-sentry-relay-id': '00000000-0000-4000-8000-000000000000' } }, 400, { detail: 'relay_id in payload did not match header' }],
    ];
    for (const [body, options, status, expected] of cases) {
      const response = await relay.post(CHALLENGE, body, options);
      expect({ status: response.status, body: response.body }).toEqual({ status, body: expected });
    }
  });

  it('refuses a challenge signed with another key than the one in the body', async () => {
    const relay = new TestRelay(server.url);
    const impostor = new TestRelay(server.url, { relayId: relay.relayId });
    const response = await impostor.post(CHALLENGE, challengeBody(relay));
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: 'Invalid relay signature' });
  });

  it('refuses a known relay id with a different public key', async () => {
    const relay = new TestRelay(server.url);
    await relay.register();
    const other = new TestRelay(server.url, { relayId: relay.relayId });
    const response = await other.post(CHALLENGE, challengeBody(other));
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: 'Attempted to register agent with a different public key' });
  });

  it('refuses an expired challenge with 401 and a forged or broken token with 400', async () => {
    const relay = new TestRelay(server.url);
    const old = createRegistrationToken(await server.container.systemSecret(), relay.relayId, relay.publicKey, new Date(Date.now() - 120_000));
    const expired = await relay.post(RESPONSE, { relay_id: relay.relayId, token: old, version: '24.11.0' });
    expect(expired.status).toBe(401);
    expect(expired.body).toEqual({ detail: 'Challenge expired' });
    const forged = createRegistrationToken('not the system secret', relay.relayId, relay.publicKey);
    const bad = await relay.post(RESPONSE, { relay_id: relay.relayId, token: forged, version: '24.11.0' });
    expect(bad.status).toBe(400);
    const broken = await relay.post(RESPONSE, { relay_id: relay.relayId, token: `${forged}__broken`, version: '24.11.0' });
    expect(broken.status).toBe(400);
  });

  it('refuses a response signed by a key other than the one in the token', async () => {
    const relay = new TestRelay(server.url);
    const challenge = await relay.post<{ token: string }>(CHALLENGE, challengeBody(relay));
    const impostor = new TestRelay(server.url, { relayId: relay.relayId });
    const response = await impostor.post(RESPONSE, { relay_id: relay.relayId, token: challenge.body.token, version: '24.11.0' });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ detail: 'Invalid relay signature' });
    expect(await server.container.orm.em.fork().count(Relay, { relayId: relay.relayId })).toBe(0);
  });
});

describe('registration integrity', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({}, { workers: false });
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses a late response with a token for another key: the registered relay keeps its key and keeps working', async () => {
    const relay = new TestRelay(server.url);
    // The attacker asks for a challenge while the relay id is not registered yet, with its own key.
    const attacker = new TestRelay(server.url, { relayId: relay.relayId });
    const challenge = await attacker.post<{ token: string }>(CHALLENGE, { relay_id: relay.relayId, public_key: attacker.publicKey, version: '24.11.0' });
    expect(challenge.status).toBe(200);
    await relay.register();

    const late = await attacker.post(RESPONSE, { relay_id: relay.relayId, token: challenge.body.token, version: '24.11.0' });
    expect(late.status).toBe(400);
    expect(late.body).toEqual({ detail: 'Attempted to register agent with a different public key' });

    const em = server.container.orm.em.fork();
    expect((await em.findOneOrFail(Relay, { relayId: relay.relayId })).publicKey).toBe(relay.publicKey);
    const signed = await relay.post<{ relays: Record<string, unknown> }>('/api/0/relays/publickeys/', { relay_ids: [relay.relayId] });
    expect(signed.status).toBe(200);
    expect(signed.body.relays[relay.relayId]).toEqual({ publicKey: relay.publicKey, internal: false });
    expect((await attacker.post('/api/0/relays/publickeys/', { relay_ids: [] })).status).toBe(401);
  });

  it('refuses a version longer than 32 characters with 400 at the challenge and at the response, writing nothing', async () => {
    const relay = new TestRelay(server.url);
    const version = `24.11.0-${'a'.repeat(25)}`;
    expect(version.length).toBe(33);
    const challenge = await relay.post(CHALLENGE, { relay_id: relay.relayId, public_key: relay.publicKey, version });
    expect(challenge.status).toBe(400);
    expect(challenge.body).toEqual({ version: ['Ensure this field has no more than 32 characters.'] });
    // A token got with a valid version does not let a long one through at the response either.
    const token = createRegistrationToken(await server.container.systemSecret(), relay.relayId, relay.publicKey);
    const response = await relay.post(RESPONSE, { relay_id: relay.relayId, token, version });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ version: ['Ensure this field has no more than 32 characters.'] });
    const em = server.container.orm.em.fork();
    expect(await em.count(Relay, { relayId: relay.relayId })).toBe(0);
    expect(await em.count(RelayUsage, { relayId: relay.relayId })).toBe(0);
    // Exactly 32 characters is a valid version.
    await new TestRelay(server.url, { version: `24.11.0-${'a'.repeat(24)}` }).register();
  });
});

describe('registration rate limit', () => {
  let server: TestServer;
  let replica: { container: Container; server: Server; url: string };
  const challengeFrom = (url: string, address: string) => {
    const relay = new TestRelay(url);
    return relay.post(CHALLENGE, { relay_id: relay.relayId, public_key: relay.publicKey, version: '24.11.0' }, { headers: { 'x-forwarded-for': address } });
  };

  beforeAll(async () => {
    const env = { RELAY_REGISTER_RATE_LIMIT: '5', TRUST_PROXY: 'true' };
    server = await startTestServer(env, { workers: false });
    // A second API replica on the same database and Redis.
    const { databaseUrl, redisKeyPrefix } = server.container.settings;
    const container = await testContainer({ ...env, DATABASE_URL: databaseUrl, REDIS_KEY_PREFIX: redisKeyPrefix }, 'api');
    const http = await listen(createApp(container), 0, '127.0.0.1');
    replica = { container, server: http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
    // Requests before the connection is up pass uncounted (the limit fails open), so wait for it.
    for (const redis of [server.container.redis, container.redis]) if (redis.status !== 'ready') await once(redis, 'ready');
  });
  afterAll(async () => {
    await closeServer(replica.server, 1000);
    await replica.container.close();
    await server.close();
  });

  it('answers a burst from one address with 429 JSON and Retry-After, on every replica, and lets other addresses in', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await challengeFrom(server.url, '203.0.113.7')).status);
    for (let i = 0; i < 3; i += 1) statuses.push((await challengeFrom(replica.url, '203.0.113.7')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);

    const refused = await challengeFrom(server.url, '203.0.113.7');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toContain('application/json');
    expect(refused.body).toEqual({ detail: expect.stringMatching(/^Request was throttled\. Expected available in \d+ seconds\.$/) });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    // The response step counts too: a flood cannot move over to it.
    const relay = new TestRelay(server.url);
    const response = await relay.post(RESPONSE, { relay_id: relay.relayId, token: 'x', version: '24.11.0' }, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(response.status).toBe(429);

    expect((await challengeFrom(server.url, '203.0.113.8')).status).toBe(200);
    expect((await challengeFrom(replica.url, '2001:db8::1')).status).toBe(200);
  });

  it('counts an IPv6 client by its /64, and an IPv4-mapped address as the IPv4 address', async () => {
    expect(rateLimitBucket('2001:db8:aaaa:1:0:0:0:1')).toBe('2001:db8:aaaa:1::/64');
    expect(rateLimitBucket('2001:db8:aaaa:1::ffff')).toBe('2001:db8:aaaa:1::/64');
    expect(rateLimitBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(rateLimitBucket('::ffff:198.51.100.4')).toBe('198.51.100.4');
    expect(rateLimitBucket('64:ff9b::198.51.100.4')).toBe('64:ff9b:0:0::/64');
    expect(rateLimitBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(rateLimitBucket(undefined)).toBe('unknown');

    const statuses: number[] = [];
    for (let i = 1; i <= 6; i += 1) statuses.push((await challengeFrom(server.url, `2001:db8:aaaa:1::${i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect((await challengeFrom(server.url, '2001:db8:aaaa:2::1')).status).toBe(200);
  });
});

describe('closed registration', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ RELAY_OPEN_REGISTRATION: 'false' }, { workers: false });
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses unknown relays with 403 but lets whitelisted ones register', async () => {
    const stranger = new TestRelay(server.url);
    const response = await stranger.post(CHALLENGE, { relay_id: stranger.relayId, public_key: stranger.publicKey, version: '24.11.0' });
    expect(response.status).toBe(403);
    expect(response.body).toEqual({ detail: 'Relay is not allowed to register' });
    await expect(server.internalRelay()).resolves.toBeInstanceOf(TestRelay);
  });
});
