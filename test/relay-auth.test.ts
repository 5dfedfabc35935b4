import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRelayPublicKey, parseRelaySecretKey, signRelayBody, verifyRelaySignature } from '../src/relay-auth/keys';
import { verifyRegistrationToken } from '../src/relay-auth/registration-token';
import { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';

// PROTOCOL.md §3: relay's own test vectors.
const KEYPAIR_SECRET = 'OvXFVm1tIUi8xDTuyHX1SSqdMc8nCt2qU9IUaH5p7oUk5pHZsdnfXNiMWiMLtSE86J3N9Peo5CBP1YQHDUkApQ';
const SEED_SECRET = 'OvXFVm1tIUi8xDTuyHX1SSqdMc8nCt2qU9IUaH5p7oU';
const PUBLIC = 'JOaR2bHZ31zYjFojC7UhPOidzfT3qOQgT9WEBw1JAKU';
const RELAY_KEY = 'dXq9IiKDLgma0J8dLVITOdkpaU8mPZPJj18t4HCKTfs';
const REQUEST = '{"relay_id":"29308cac-9783-40e9-98ac-b5503dffe3a4","public_key":"dXq9IiKDLgma0J8dLVITOdkpaU8mPZPJj18t4HCKTfs","version":"20.8.0"}';
const REQUEST_SIG =
  'VgFn-7B5JmbSPiM5bikxkn7DjImV8LkfW3UVQcXnK8nLumvLaS7ML0KTY7a7LlU_3grGtSNZlEUbBudOp__RDA.eyJ0IjoiMjAyMC0wOS0wOFQxMzozMzozNS45OTM5MDRaIn0';
const TOKEN =
  'eyJ0aW1lc3RhbXAiOjE1OTk1NzIwMTUsInJlbGF5X2lkIjoiMjkzMDhjYWMtOTc4My00MGU5LTk4YWMtYjU1MDNkZmZlM2E0IiwicHVibGljX2tleSI6ImRYcTlJaUtETGdtYTBKOGRMVklUT2RrcGFVOG1QWlBKajE4dDRIQ0tUZnMiLCJyYW5kIjoiQURNNG9yLVZNZ0Y1eTRLQUo2cHkyQnB5T3lmUmV1NGRjZTJCdmd5UHlSdnczRXFaUmc4SkE0NHdxVWdBVlBQMGhIeHR0am81YTdBYW93UEFVaUR2NUEifQ:XXYCNWscmAiBWzI84ToZWAGgmIrupWQufYcSBhIEcxiDxyBp_BRO0d_LN9wnc0tjtFcT9JViLoGCgfOt6vDS7A';
const RESPONSE = `{"relay_id":"29308cac-9783-40e9-98ac-b5503dffe3a4","token":"${TOKEN}","version":"20.8.0"}`;
const RESPONSE_SIG =
  'iPFV5KcSXDrhjY_99X8r_pMB1NQdw-YWF7hjvdrYpXmsaSier-mp1-3viWsEPIcTNbA76B4t51sjbSYFZPzXBg.eyJ0IjoiMjAyMC0wOS0wOFQxMzozMzozNS45OTU2ODJaIn0';

describe('relay keys (test vectors)', () => {
  it('parses the keypair and the seed form of the secret to the same public key', () => {
    expect(parseRelaySecretKey(KEYPAIR_SECRET)?.publicKeyText).toBe(PUBLIC);
    expect(parseRelaySecretKey(SEED_SECRET)?.publicKeyText).toBe(PUBLIC);
    expect(parseRelayPublicKey(PUBLIC)).not.toBeNull();
  });

  it('rejects bad encodings, short keys, padding and a keypair whose public half does not match', () => {
    expect(parseRelaySecretKey('bad data')).toBeNull();
    expect(parseRelaySecretKey('OvXF')).toBeNull();
    expect(parseRelayPublicKey('bad data')).toBeNull();
    expect(parseRelayPublicKey('OvXF')).toBeNull();
    expect(parseRelayPublicKey(`${PUBLIC.slice(0, 42)}=`)).toBeNull();
    expect(parseRelaySecretKey(KEYPAIR_SECRET.slice(0, 43) + RELAY_KEY)).toBeNull();
  });
});

describe('registration vectors (age check off)', () => {
  const key = parseRelayPublicKey(RELAY_KEY)!;

  it('verifies REQUEST with REQUEST_SIG and RESPONSE with RESPONSE_SIG', () => {
    expect(verifyRelaySignature(key, Buffer.from(REQUEST), REQUEST_SIG, null)).toEqual({ timestamp: new Date('2020-09-08T13:33:35.993Z') });
    expect(verifyRelaySignature(key, Buffer.from(RESPONSE), RESPONSE_SIG, null)).toEqual({ timestamp: new Date('2020-09-08T13:33:35.995Z') });
  });

  it('fails for a broken body and for a broken signature', () => {
    expect(verifyRelaySignature(key, Buffer.from(`${REQUEST}__broken`), REQUEST_SIG, null)).toBe('bad-signature');
    expect(verifyRelaySignature(key, Buffer.from(REQUEST), `${REQUEST_SIG}__broken`, null)).toBe('malformed');
    expect(verifyRelaySignature(key, Buffer.from(RESPONSE), `${RESPONSE_SIG}__broken`, null)).toBe('malformed');
  });

  it('checks the token MAC with the system secret "secret"', () => {
    expect(verifyRegistrationToken(TOKEN, 'secret', null)).toEqual({ relayId: '29308cac-9783-40e9-98ac-b5503dffe3a4', publicKey: RELAY_KEY, timestamp: 1599572015 });
    expect(verifyRegistrationToken(TOKEN, 'other secret', null)).toBe('invalid');
    expect(verifyRegistrationToken(`${TOKEN}__broken`, 'secret', null)).toBe('invalid');
    expect(verifyRegistrationToken(TOKEN, 'secret', 60)).toBe('expired');
  });

  it('rejects the vectors once the age check is on (they are from 2020)', () => {
    expect(verifyRelaySignature(key, Buffer.from(REQUEST), REQUEST_SIG, 60)).toBe('expired');
  });
});

describe('signature age', () => {
  const relay = parseRelaySecretKey(KEYPAIR_SECRET)!;
  const pub = parseRelayPublicKey(PUBLIC)!;
  const body = Buffer.from('{}');

  it('accepts a timestamp in the future and refuses one older than the max age', () => {
    const future = signRelayBody(relay.secretKey, body, new Date(Date.now() + 3600_000));
    expect(verifyRelaySignature(pub, body, future, 300)).not.toBeTypeOf('string');
    const old = signRelayBody(relay.secretKey, body, new Date(Date.now() - 301_000));
    expect(verifyRelaySignature(pub, body, old, 300)).toBe('expired');
  });
});

describe('relay authentication over HTTP', () => {
  let server: TestServer;
  let relay: TestRelay;
  const path = '/api/0/relays/projectconfigs/?version=3';

  beforeAll(async () => {
    server = await startTestServer({}, { workers: false });
    relay = await server.internalRelay();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers a signed request of a registered relay', async () => {
    const response = await relay.post(path, { publicKeys: [] });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ configs: {}, pending: [] });
  });

  it.each([
    ['a missing relay id', { 'x-sentry-relay-id': '' }, 'Invalid relay ID'],
    ['a relay id that is not a UUID', { 'x-sentry-relay-id': 'not-a-uuid' }, 'Invalid relay ID'],
    ['an upper-case UUID', { 'x-sentry-relay-id': '29308CAC-9783-40E9-98AC-B5503DFFE3A4' }, 'Invalid relay ID'],
    ['an unknown relay', { 'x-sentry-relay-id': '00000000-0000-4000-8000-000000000000' }, 'Unknown relay'],
  ])('refuses %s with 401', async (_, headers, detail) => {
    const response = await relay.post(path, { publicKeys: [] }, { headers });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ detail });
  });

  it('refuses a request without signature', async () => {
    const response = await relay.post(path, { publicKeys: [] }, { sign: false });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ detail: 'Missing relay signature' });
  });

  it('refuses a tampered body, a signature by another key, an expired signature and a non-JSON body', async () => {
    const other = new TestRelay(server.url, { relayId: relay.relayId });
    const signed = await other.post(path, { publicKeys: [] });
    const expired = await relay.post(path, { publicKeys: [] }, { signedAt: new Date(Date.now() - 400_000) });
    const garbage = await relay.post(path, 'this is not json');
    const tampered = await fetch(new URL(path, server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sentry-relay-id': relay.relayId, 'x-sentry-relay-signature': signedHeader(relay, '{"publicKeys":[]}') },
      body: '{"publicKeys":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}',
    });
    for (const response of [signed, expired, garbage]) {
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ detail: 'Invalid relay signature' });
    }
    expect(tampered.status).toBe(401);
    expect(await tampered.json()).toEqual({ detail: 'Invalid relay signature' });
  });

  it('answers live/ without a signature', async () => {
    const response = await fetch(new URL('/api/0/relays/live/', server.url));
    expect(response.status).toBe(200);
  });

  it('answers publickeys/ in both shapes', async () => {
    const response = await relay.post<{ relays: Record<string, unknown>; public_keys: Record<string, unknown> }>('/api/0/relays/publickeys/', {
      relay_ids: [relay.relayId, '00000000-0000-4000-8000-000000000000'],
    });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      relays: { [relay.relayId]: { publicKey: relay.publicKey, internal: true }, '00000000-0000-4000-8000-000000000000': null },
      public_keys: { [relay.relayId]: relay.publicKey, '00000000-0000-4000-8000-000000000000': null },
    });
  });

  it('answers events and other paths Relay may send with a JSON 404', async () => {
    const response = await relay.post('/api/42/envelope/', '{}');
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ detail: expect.any(String) });
  });
});

function signedHeader(relay: TestRelay, body: string): string {
  return signRelayBody(parseRelaySecretKey(relay.secret)!.secretKey, Buffer.from(body));
}

describe('internal addresses behind a proxy (TRUST_PROXY=true: one hop)', () => {
  let server: TestServer;
  let relay: TestRelay;
  const path = '/api/0/relays/projectconfigs/?version=3';

  beforeAll(async () => {
    server = await startTestServer({ INTERNAL_SYSTEM_IPS: '10.0.0.0/8', TRUST_PROXY: 'true' }, { workers: false });
    relay = new TestRelay(server.url);
    await relay.register();
  });
  afterAll(async () => {
    await server.close();
  });

  it('takes the address the proxy saw (rightmost), so a client cannot write itself an internal address', async () => {
    // The client wrote "10.1.2.3"; the proxy appended the address it really came from.
    const forged = await relay.post(path, { publicKeys: [] }, { headers: { 'x-forwarded-for': '10.1.2.3, 203.0.113.9' } });
    expect(forged.status).toBe(403);
    const internal = await relay.post(path, { publicKeys: [] }, { headers: { 'x-forwarded-for': '203.0.113.9, 10.1.2.3' } });
    expect(internal.status).toBe(200);
    expect(internal.body).toEqual({ configs: {}, pending: [] });
  });
});
