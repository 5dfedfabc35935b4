import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Relay, RelayUsage } from '../src/db/entities';
import { createRegistrationToken } from '../src/relay-auth/registration-token';
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
    const old = createRegistrationToken(server.container.settings.systemSecretKey, relay.relayId, relay.publicKey, new Date(Date.now() - 120_000));
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
