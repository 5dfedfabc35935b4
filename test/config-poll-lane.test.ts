import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { seed } from '../src/db/seed';
import { createApp } from '../src/http/app';
import { closeServer, listen } from '../src/http/server';
import { signRelayBody, parseRelaySecretKey } from '../src/relay-auth/keys';
import { testContainer } from './support/harness';
import { TestRelay } from './support/relay-client';

/**
 * Relay's steady-state poll is answered outside Express (src/http/config-poll-lane.ts). Whatever
 * a request is, the service must answer it exactly as the Express route alone does: the same
 * status, body and headers, the same metrics and refusal counts. Two listeners on one container
 * (one with the lane, one without) get the same requests and their answers are compared.
 */

const V3 = '/api/0/relays/projectconfigs/?version=3';

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

async function laneCounts(container: Container): Promise<{ answered: number; handed_over: number }> {
  const values = (await container.metrics.configPollLane.get()).values;
  const count = (outcome: string) => values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
  return { answered: count('answered'), handed_over: count('handed_over') };
}

function send(url: string, path: string, body: Buffer, headers: Record<string, string>, chunked = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, url), { method: 'POST', headers: chunked ? headers : { 'content-length': String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const { date: _date, 'keep-alive': _keepAlive, connection: _connection, ...rest } = res.headers;
        resolve({ status: res.statusCode ?? 0, headers: rest, body: Buffer.concat(chunks).toString('latin1') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (chunked) {
      req.write(body.subarray(0, 1));
      req.end(body.subarray(1));
    } else req.end(body);
  });
}

describe('the config poll lane answers exactly as the Express route', () => {
  let container: Container;
  let lane: Server;
  let plain: Server;
  let laneUrl = '';
  let plainUrl = '';
  let internal: TestRelay;
  let external: TestRelay;
  let keys: string[] = [];

  beforeAll(async () => {
    const whitelisted = new TestRelay('http://placeholder');
    container = await testContainer({ RELAY_WHITELIST_PK: whitelisted.publicKey });
    lane = await listen(createApp(container), 0, '127.0.0.1');
    plain = await listen(createApp(container, { configPollLane: false }), 0, '127.0.0.1');
    laneUrl = `http://127.0.0.1:${(lane.address() as AddressInfo).port}`;
    plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    internal = new TestRelay(laneUrl, { secret: whitelisted.secret, relayId: whitelisted.relayId });
    await internal.register();
    external = new TestRelay(laneUrl);
    await external.register();
    keys = (await seed(container.orm.em.fork(), { orgs: 1, projects: 3, keys: 1 })).publicKeys;
    // Cached by version 2, so both listeners answer from the cache (no build runs: no workers).
    expect((await internal.projectConfigs({ publicKeys: keys }, '2')).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await closeServer(lane, 1000);
    await closeServer(plain, 1000);
    await container?.close();
  });

  const signed = (relay: TestRelay, body: Buffer, extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    'x-sentry-relay-id': relay.relayId,
    'x-sentry-relay-signature': signRelayBody(parseRelaySecretKey(relay.secret)!.secretKey, body),
    ...extra,
  });

  type Lane = 'answered' | 'handed_over' | 'not_taken';
  const cases: [string, Lane, () => { path?: string; body: Buffer; headers: Record<string, string>; chunked?: boolean }][] = [
    ['cached configs', 'answered', () => ({ body: Buffer.from(JSON.stringify({ publicKeys: keys, fullConfig: true })), headers: signed(internal, Buffer.from(JSON.stringify({ publicKeys: keys, fullConfig: true }))) })],
    ['cached configs, gzip', 'answered', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { body, headers: signed(internal, body, { 'accept-encoding': 'gzip' }) };
    }],
    ['an unknown key and an uncached one (pending), with revisions', 'answered', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: [keys[0], 'f'.repeat(32)], revisions: ['stale', null] }));
      return { body, headers: signed(internal, body) };
    }],
    ['a relay that is not internal', 'handed_over', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { body, headers: signed(external, body) };
    }],
    ['a bad signature', 'handed_over', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { body, headers: signed(internal, Buffer.from('something else')) };
    }],
    ['an unknown relay', 'handed_over', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { body, headers: { ...signed(internal, body), 'x-sentry-relay-id': '00000000-0000-4000-8000-000000000000' } };
    }],
    ['no signature', 'handed_over', () => ({ body: Buffer.from('{}'), headers: { 'x-sentry-relay-id': internal.relayId } })],
    ['a body that is not JSON', 'handed_over', () => ({ body: Buffer.from('not json'), headers: signed(internal, Buffer.from('not json')) })],
    ['a body of another shape', 'handed_over', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: 'one key' }));
      return { body, headers: signed(internal, body) };
    }],
    ['a JSON array', 'handed_over', () => ({ body: Buffer.from('[]'), headers: signed(internal, Buffer.from('[]')) })],
    ['an empty body', 'handed_over', () => ({ body: Buffer.alloc(0), headers: signed(internal, Buffer.alloc(0)) })],
    ['a chunked body', 'not_taken', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { body, headers: { ...signed(internal, body), 'transfer-encoding': 'chunked' }, chunked: true };
    }],
    ['a compressed body', 'not_taken', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { body, headers: signed(internal, body, { 'content-encoding': 'gzip' }) };
    }],
    // (Version 2 computes now, so its timestamps differ from one answer to the next: not compared here.)
    ['version 1', 'not_taken', () => {
      const body = Buffer.from(JSON.stringify({ projects: [] }));
      return { path: '/api/0/relays/projectconfigs/?version=1', body, headers: signed(internal, body) };
    }],
    ['an unsupported version', 'not_taken', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { path: '/api/0/relays/projectconfigs/?version=4', body, headers: signed(internal, body) };
    }],
    ['version 3 with another query', 'not_taken', () => {
      const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
      return { path: `${V3}&x=1`, body, headers: signed(internal, body) };
    }],
  ];

  it.each(cases)('%s (lane: %s)', async (_, lane, make) => {
    const { path = V3, body, headers, chunked } = make();
    const refusals = async () => (await container.metrics.relayAuthRefusals.get()).values.reduce((sum, v) => sum + v.value, 0);
    const before = await refusals();
    const lanesBefore = await laneCounts(container);
    const viaLane = await send(laneUrl, path, body, headers, chunked);
    const afterLane = await refusals();
    const lanesAfter = await laneCounts(container);
    expect({ answered: lanesAfter.answered - lanesBefore.answered, handed_over: lanesAfter.handed_over - lanesBefore.handed_over }).toEqual({
      answered: lane === 'answered' ? 1 : 0,
      handed_over: lane === 'handed_over' ? 1 : 0,
    });
    const viaExpress = await send(plainUrl, path, body, headers, chunked);
    const afterExpress = await refusals();
    expect(viaLane.status).toBeLessThan(500);
    expect(viaLane).toEqual(viaExpress);
    // A refused request is counted once either way (the lane hands it to Express, which reports it).
    expect(afterLane - before).toBe(afterExpress - afterLane);
    if (viaLane.status === 401 || viaLane.status === 403) expect(afterLane - before).toBe(1);
  });

  it('answers a relay that is internal by its address (INTERNAL_SYSTEM_IPS, under the trust proxy setting) as Express does', async () => {
    const byAddress = await testContainer({ INTERNAL_SYSTEM_IPS: '127.0.0.1/32' });
    const laneServer = await listen(createApp(byAddress), 0, '127.0.0.1');
    const plainServer = await listen(createApp(byAddress, { configPollLane: false }), 0, '127.0.0.1');
    try {
      const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const relay = new TestRelay(urlOf(laneServer));
      await relay.register();
      const found = (await seed(byAddress.orm.em.fork(), { orgs: 1, projects: 2, keys: 1 })).publicKeys;
      expect((await relay.projectConfigs({ publicKeys: found }, '2')).status).toBe(200);
      const body = Buffer.from(JSON.stringify({ publicKeys: found }));
      const before = await laneCounts(byAddress);
      const viaLane = await send(urlOf(laneServer), V3, body, signed(relay, body));
      expect((await laneCounts(byAddress)).answered).toBe(before.answered + 1);
      const viaExpress = await send(urlOf(plainServer), V3, body, signed(relay, body));
      expect(viaLane.status).toBe(200);
      expect(viaLane).toEqual(viaExpress);
      expect(Object.keys((JSON.parse(viaLane.body) as { configs: object }).configs)).toEqual(found);
    } finally {
      await closeServer(laneServer, 1000);
      await closeServer(plainServer, 1000);
      await byAddress.close();
    }
  });

  it('counts the polls it answers in the request metrics, by the route as Express labels it', async () => {
    const count = async () =>
      (await container.metrics.httpRequests.get()).values.filter((v) => v.labels.route === '/api/0/relays/projectconfigs/' && v.labels.status === '200').reduce((sum, v) => sum + v.value, 0);
    const before = await count();
    const body = Buffer.from(JSON.stringify({ publicKeys: keys }));
    expect((await send(laneUrl, V3, body, signed(internal, body))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await count()).toBe(before + 1);
  });
});
