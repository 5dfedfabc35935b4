import { randomInt } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { parseRelaySecretKey, signRelayBody } from '../src/relay-auth/keys';
import { createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';
import { rawRequest, type RawRequest } from './support/raw-http';
import { TestRelay } from './support/relay-client';
import { prng } from './support/prng';

/**
 * A seeded, bounded random fuzzer over the HTTP surface: random bodies (deep nesting, huge
 * numbers, wrong types, unpaired surrogates, NULs, prototype keys), random encodings and random
 * headers (Host, Content-Type, Content-Length lies) against the management API (valid token) and
 * the Relay endpoints (signed and unsigned). Every answer must be a 4xx or 2xx with a JSON body.
 *
 * The seed is printed; `FUZZ_SEED=<n>` replays a run, `FUZZ_REQUESTS=<n>` and `FUZZ_TIME_MS=<ms>`
 * change its length (400 requests or 12 s, whichever ends first).
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 400);
/** Bounded in time too, so a slow CI machine still finishes well inside the test timeout. */
const TIME_BUDGET_MS = Number(process.env.FUZZ_TIME_MS ?? 12_000);

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function seeded(seed: number) {
  const next = prng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof seeded>;

const NASTY_STRINGS = [
  '',
  ' ',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '\ud83d\ude00',
  '\u202e\u0007',
  '__proto__',
  'constructor',
  "'; DROP TABLE organization; --",
  '%00%ff',
  '\\u0000',
  'ünïcødé',
  '1e400',
  '{"nested":"json"}',
  'javascript:alert(1)',
  '*',
  'localhost:3000',
];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];
const FIELDS = [
  'name',
  'platform',
  'options',
  'trustedRelays',
  'relayPiiConfig',
  'dataScrubber',
  'dataScrubberDefaults',
  'scrubIPAddresses',
  'sensitiveFields',
  'safeFields',
  'allowedDomains',
  'templateId',
  'eventRetention',
  'samplingMode',
  'targetSampleRate',
  'dynamicSamplingBiases',
  'featureOverrides',
  'avatarType',
  'avatar',
  'rateLimit',
  'isActive',
  'active',
  'subfilters',
  'publicKeys',
  'revisions',
  'fullConfig',
  'noCache',
  'global',
  'projects',
  'relay_id',
  'relay_ids',
  'public_key',
  'token',
  'version',
];
const OPTION_KEYS = ['sentry:blacklisted_ips', 'sentry:sensitive_fields', 'sentry:relay_pii_config', 'sentry:features', 'sentry:breakdowns', 'sentry:origins', 'sentry:nope', '__proto__'];

function randomString(rng: Rng): string {
  if (rng.chance(0.5)) return rng.pick(NASTY_STRINGS);
  if (rng.chance(0.05)) return 'x'.repeat(rng.int(100_000));
  return Array.from({ length: rng.int(12) }, () => String.fromCharCode(rng.chance(0.9) ? 32 + rng.int(95) : rng.int(0x10000))).join('');
}

/** Text of a number JSON.stringify would never write: huge, tiny, negative zero, long integers. */
function randomNumberText(rng: Rng): string {
  return rng.pick(['1e400', '-1e400', '1e-400', '-0', '123456789012345678901234567890', '0.1e1', String(2 ** 53 + 1), String(2 ** 31), '-1', String(rng.next() * 10)]);
}

/** A random JSON text; `depth` bounds ordinary nesting, deep nesting comes as its own case. */
function randomJson(rng: Rng, depth = 0): string {
  const roll = rng.int(depth > 3 ? 5 : 9);
  switch (roll) {
    case 0:
      return rng.pick(['null', 'true', 'false']);
    case 1:
      return randomNumberText(rng);
    case 2:
    case 3:
      return JSON.stringify(randomString(rng)).replace(/\\\\u/g, '\\u');
    case 4:
      return String(rng.int(1000));
    case 5:
    case 6: {
      const keys = Array.from({ length: rng.int(5) }, () => (rng.chance(0.2) ? rng.pick(PROTO_KEYS) : rng.chance(0.5) ? rng.pick(FIELDS) : rng.chance(0.5) ? rng.pick(OPTION_KEYS) : randomString(rng)));
      return `{${keys.map((k) => `${JSON.stringify(k)}:${randomJson(rng, depth + 1)}`).join(',')}}`;
    }
    default:
      return `[${Array.from({ length: rng.int(5) }, () => randomJson(rng, depth + 1)).join(',')}]`;
  }
}

/** A request body as text: mostly an object of known fields, sometimes anything at all. */
function randomBodyText(rng: Rng): string {
  const roll = rng.int(12);
  if (roll === 0) return `{"name":${'['.repeat(1 + rng.int(60_000))}`; // deep and unterminated
  if (roll === 1) {
    const levels = 50 + rng.int(20_000);
    return rng.chance(0.5) ? `{"options":${'['.repeat(levels)}${']'.repeat(levels)}}` : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  }
  if (roll === 2) return rng.pick(['', ' ', 'null', '[]', '"text"', '{', '{"a":1,}', '\ufeff{}', '{"a":\u0000}', 'ü', '{"name":"x"}garbage']);
  if (roll === 3) return randomJson(rng);
  const fields = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(FIELDS));
  const entries = fields.map((f) => {
    if (f === 'options') return `"options":{${JSON.stringify(rng.pick(OPTION_KEYS))}:${randomJson(rng, 1)}}`;
    if (f === 'publicKeys' && rng.chance(0.5)) return `"publicKeys":${JSON.stringify(Array.from({ length: rng.int(600) }, () => (rng.chance(0.5) ? 'a'.repeat(32) : randomString(rng))))}`;
    return `${JSON.stringify(f)}:${randomJson(rng, 1)}`;
  });
  if (rng.chance(0.2)) entries.push(`${JSON.stringify(rng.pick(PROTO_KEYS))}:{"isSuperuser":true,"role":"owner"}`);
  return `{${entries.join(',')}}`;
}

interface Target {
  method: string;
  path: string;
  relay: boolean;
}

function randomQuery(rng: Rng): string {
  if (rng.chance(0.6)) return '';
  const params = ['cursor', 'per_page', 'event', 'status', 'version', 'cursor'];
  const values = ['', '0:0:0', '100:-1:1', '1:99999999:0', 'abc', '%ff', '%ED%A0%80', '1', '0', '3', '999999', 'team.add', '__proto__'];
  return `?${Array.from({ length: 1 + rng.int(3), }, () => `${rng.pick(params)}=${rng.pick(values)}`).join('&')}`;
}

function randomTarget(rng: Rng, keyId: string): Target {
  const admin: [string, string][] = [
    ['GET', '/api/0/'],
    ['GET', '/api/0/organizations/'],
    ['POST', '/api/0/organizations/'],
    ['GET', '/api/0/organizations/fuzz/'],
    ['PUT', '/api/0/organizations/fuzz/'],
    ['GET', '/api/0/organizations/fuzz/audit-logs/'],
    ['GET', '/api/0/organizations/fuzz/teams/'],
    ['POST', '/api/0/organizations/fuzz/teams/'],
    ['POST', '/api/0/teams/fuzz/backend/projects/'],
    ['GET', '/api/0/organizations/fuzz/projects/'],
    ['GET', '/api/0/projects/fuzz/web/'],
    ['PUT', '/api/0/projects/fuzz/web/'],
    ['GET', '/api/0/projects/fuzz/web/keys/'],
    ['POST', '/api/0/projects/fuzz/web/keys/'],
    ['GET', `/api/0/projects/fuzz/web/keys/${keyId}/`],
    ['PUT', `/api/0/projects/fuzz/web/keys/${keyId}/`],
    ['DELETE', '/api/0/projects/fuzz/web/keys/0123456789abcdef0123456789abcdef/'],
    ['PUT', `/api/0/projects/fuzz/web/filters/${rng.pick(['localhost', 'legacy-browsers', 'web-crawlers', 'nope'])}/`],
    ['POST', '/api/0/organizations/fuzz/project-templates/'],
    ['PUT', '/api/0/organizations/fuzz/project-templates/1/'],
    ['GET', `/api/0/organizations/${rng.pick(['%ff', '%00', '..', 'fuzz%2F..', '\u00e9'])}/`],
  ];
  const relay: [string, string][] = [
    ['POST', `/api/0/relays/projectconfigs/?version=${rng.pick(['1', '2', '3', '4', 'x', ''])}`],
    ['POST', '/api/0/relays/projectconfigs/'],
    ['POST', '/api/0/relays/register/challenge/'],
    ['POST', '/api/0/relays/register/response/'],
    ['POST', '/api/0/relays/publickeys/'],
    ['GET', '/api/0/relays/live/'],
  ];
  const isRelay = rng.chance(0.4);
  const [method, path] = rng.pick(isRelay ? relay : admin);
  return { method, path: path.includes('?') ? path : `${path}${randomQuery(rng)}`, relay: isRelay };
}

/** The body as sent, with its encoding header; some encodings are deliberately broken. */
function encode(rng: Rng, text: string): { body: Buffer; encoding: string | null } {
  const raw = Buffer.from(text, rng.chance(0.05) ? 'latin1' : 'utf8');
  switch (rng.int(14)) {
    case 0:
      return { body: gzipSync(raw), encoding: rng.pick(['gzip', 'GZIP', 'x-gzip']) };
    case 1:
      return { body: gzipSync(raw).subarray(0, rng.int(20)), encoding: 'gzip' };
    case 2:
      return { body: deflateSync(raw), encoding: 'deflate' };
    case 3:
      return { body: raw, encoding: rng.pick(['deflate', 'br', 'gzip']) };
    case 4:
      return { body: brotliCompressSync(raw), encoding: 'br' };
    case 5:
      return { body: raw, encoding: rng.pick(['x-garbage', 'gzip, br', 'identity, gzip', ' ', 'compress', 'zstd', 'identity']) };
    default:
      return { body: raw, encoding: null };
  }
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/json; charset=nope', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/*', '*/*', 'garbage'];
const HOSTS = ['127.0.0.1', 'evil.example', 'exa mple', '[::1', 'a:99999', '', 'ünïcode', 'a/b?c#d', 'x'.repeat(300), 'localhost:0'];

describe('HTTP fuzzing (seeded)', () => {
  let container: Container;
  let api: ApiClient;
  let port: number;
  let token: string;
  let keyId: string;
  let relay: TestRelay;

  beforeAll(async () => {
    container = await testContainer();
    ({ token } = await userWithToken(container));
    api = await startApi(container, token);
    port = Number(new URL(api.baseUrl).port);
    ({ key: { id: keyId } } = await createOrgWithProject(api, token, 'fuzz'));
    relay = new TestRelay(api.baseUrl);
    await relay.register();
  });

  afterAll(async () => {
    await api.close();
    await container.close();
  });

  it('answers every random request with a 2xx or 4xx JSON body, never a 5xx or a hang', { timeout: 60_000 }, async () => {
    console.log(`fuzz seed: ${SEED} (replay with FUZZ_SEED=${SEED})`);
    const rng = seeded(SEED);
    const secretKey = parseRelaySecretKey(relay.secret)!.secretKey;
    const started = Date.now();
    const seen = new Map<number, number>();
    let sent = 0;
    for (; sent < REQUESTS && Date.now() - started < TIME_BUDGET_MS; sent++) {
      const target = randomTarget(rng, keyId);
      const text = target.method === 'GET' && rng.chance(0.7) ? '' : randomBodyText(rng);
      const { body, encoding } = encode(rng, text);
      const headers: [string, string][] = [];
      if (rng.chance(0.9)) headers.push(['Host', rng.chance(0.5) ? `127.0.0.1:${port}` : rng.pick(HOSTS)]);
      else headers.push(['Host', `127.0.0.1:${port}`]);
      if (rng.chance(0.85)) headers.push(['Content-Type', rng.chance(0.6) ? 'application/json' : rng.pick(CONTENT_TYPES)]);
      if (encoding !== null) headers.push(['Content-Encoding', encoding]);
      if (target.relay) {
        if (rng.chance(0.8)) headers.push(['X-Sentry-Relay-Id', rng.chance(0.8) ? relay.relayId : randomString(rng).replace(/[^\x20-\x7e]/g, '')]);
        const signed = rng.chance(0.6);
        if (signed) headers.push(['X-Sentry-Relay-Signature', signRelayBody(secretKey, body)]);
        else if (rng.chance(0.5)) headers.push(['X-Sentry-Relay-Signature', rng.pick(['garbage', 'a.b', '', '.'])]);
      } else if (rng.chance(0.92)) {
        headers.push(['Authorization', `Bearer ${token}`]);
      } else {
        headers.push(['Authorization', rng.pick(['Bearer nope', 'Basic Zm9vOmJhcg==', 'Bearer sntryu_' + '0'.repeat(64), ''])]);
      }
      if (rng.chance(0.05)) headers.push(['X-Forwarded-Host', 'evil.example'], ['X-Forwarded-Proto', 'gopher']);

      const request: RawRequest = { method: target.method, path: target.path, headers, body, timeoutMs: 5000 };
      // Content-Length lies: over the limit (413 at once), shorter than the body, or longer with the end of input after the body.
      const lie = rng.int(12);
      if (lie === 0) request.headers!.push(['Content-Length', String(rng.pick([2_097_153, 3_000_000, 10 ** 12]))]);
      else if (lie === 1 && body.length > 1) request.headers!.push(['Content-Length', String(rng.int(body.length))]);
      else if (lie === 2) {
        request.headers!.push(['Content-Length', String(body.length + 1 + rng.int(1000))]);
        request.endAfterBody = true;
      } else if (lie === 3 && body.length > 0) {
        request.headers!.push(['Transfer-Encoding', 'chunked']);
        request.body = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      }

      const description = `seed ${SEED}, request ${sent}: ${target.method} ${target.path} ${JSON.stringify(headers)} body ${JSON.stringify(text.slice(0, 200))}`;
      const res = await rawRequest(port, request);
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      expect(res.status, description).toBeGreaterThanOrEqual(200);
      expect(res.status, `${description}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status !== 204) expect(res.json, `${description}: not JSON: ${res.text.slice(0, 300)}`).toBeDefined();
    }
    console.log(`fuzz: ${sent} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...seen].sort(([a], [b]) => a - b)))}`);
    expect(sent).toBeGreaterThan(50);
    // The service still works afterwards.
    expect((await api.get('/api/0/organizations/fuzz/')).status).toBe(200);
  });
});
