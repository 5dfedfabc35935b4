import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry, Organization } from '../src/db/entities';
import type { MemberRole } from '../src/db/entities';
import { addMember, createOrgWithProject, makePng, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';
import { rawRequest } from './support/raw-http';

/**
 * One test per finding of the security review ("tenant isolation and safe defaults"): every bad
 * input a prompt 4xx JSON, public URLs from SYSTEM_URL_PREFIX, and Sentry's permission model.
 */

const PREFIX = 'https://sentry.example.com';

let container: Container;
let api: ApiClient;
let port: number;
let owner: { token: string };
let keyId: string;

beforeAll(async () => {
  // Trusting proxies shows that even X-Forwarded-* cannot steer the URLs in responses.
  container = await testContainer({ SYSTEM_URL_PREFIX: `${PREFIX}/`, TRUST_PROXY: 'true' });
  owner = await userWithToken(container);
  api = await startApi(container, owner.token);
  port = Number(new URL(api.baseUrl).port);
  ({ key: { id: keyId } } = await createOrgWithProject(api, owner.token, 'acme'));
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const em = () => container.orm.em.fork();
const auth = (token = owner.token): [string, string] => ['Authorization', `Bearer ${token}`];
const json: [string, string] = ['Content-Type', 'application/json'];

describe('bad input is a 4xx JSON answer', () => {
  it('refuses a body nested 10,000 levels deep with 400, checked without recursion', async () => {
    const deep = `{"options":{"sentry:blacklisted_ips":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`;
    const res = await api.request('PUT', '/api/0/organizations/acme/', { rawBody: deep, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: 'The request body is nested too deeply: at most 64 levels of objects and lists.' });
    const objects = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    expect((await api.request('POST', '/api/0/organizations/', { rawBody: objects, headers: { 'content-type': 'application/json' } })).status).toBe(400);
  });

  it('refuses an unpaired surrogate with a field error naming the field, before anything reaches PostgreSQL', async () => {
    const auditBefore = await em().count(AuditLogEntry, {});
    const lone = await api.request('POST', '/api/0/organizations/', { rawBody: '{"name":"a\\ud800b","slug":"lone"}', headers: { 'content-type': 'application/json' } });
    expect(lone.status).toBe(400);
    expect(lone.body).toEqual({ name: ['Text may not contain an unpaired UTF-16 surrogate (such as "\\ud800"); send valid Unicode.'] });
    expect(await em().count(Organization, { slug: 'lone' })).toBe(0);

    const nested = await api.request('PUT', '/api/0/organizations/acme/', { rawBody: '{"options":{"sentry:blacklisted_ips":["10.0.0.1","\\udc00"]}}', headers: { 'content-type': 'application/json' } });
    expect(nested.status).toBe(400);
    expect(nested.body).toEqual({ options: ['sentry:blacklisted_ips.1: Text may not contain an unpaired UTF-16 surrogate (such as "\\ud800"); send valid Unicode.'] });
    const key = await api.request('PUT', '/api/0/projects/acme/web/', { rawBody: '{"\\ud800":1}', headers: { 'content-type': 'application/json' } });
    expect(key.status).toBe(400);
    expect(Object.keys(key.body)).toEqual(['non_field_errors']);
    const audit = await api.request('PUT', `/api/0/projects/acme/web/keys/${keyId}/`, { rawBody: '{"name":"\\udfff"}', headers: { 'content-type': 'application/json' } });
    expect(audit.body).toHaveProperty('name');
    expect(await em().count(AuditLogEntry, {})).toBe(auditBefore);

    // A proper pair (an emoji) is ordinary text.
    const emoji = await api.request('POST', '/api/0/organizations/', { rawBody: '{"name":"Smile \\ud83d\\ude00","slug":"smile"}', headers: { 'content-type': 'application/json' } });
    expect(emoji.status).toBe(201);
    expect(emoji.body.name).toBe('Smile \u{1F600}');
  });

  it('answers a body that does not inflate with 400 and an unknown Content-Encoding with 415, both JSON', async () => {
    const post = (encoding: string, body: Buffer) => rawRequest(port, { method: 'POST', path: '/api/0/organizations/', headers: [auth(), json, ['Content-Encoding', encoding]], body });
    const undecodable = { detail: 'The request body could not be decompressed: its bytes do not match its Content-Encoding' };
    for (const [encoding, body] of [
      ['deflate', Buffer.from('definitely not deflate')],
      ['br', Buffer.from('definitely not brotli')],
      ['gzip', gzipSync('{"name":"Truncated"}').subarray(0, 12)],
    ] as const) {
      const res = await post(encoding, body);
      expect(res.status, encoding).toBe(400);
      expect(res.json, encoding).toEqual(undecodable);
    }
    const unknown = await post('x-garbage', Buffer.from('{}'));
    expect(unknown.status).toBe(415);
    expect(unknown.json).toEqual({ detail: 'Unsupported Content-Encoding: send the body uncompressed (identity) or as gzip, deflate or br' });
    // Well-formed compressed bodies still work.
    expect((await post('br', brotliCompressSync('{"name":"Brotli","slug":"brotli"}'))).status).toBe(201);

    const relay = await rawRequest(port, { method: 'POST', path: '/api/0/relays/projectconfigs/?version=3', headers: [json, ['Content-Encoding', 'gzip']], body: gzipSync('{}') });
    expect(relay.status).toBe(415);
    expect(relay.json).toEqual({ detail: 'Unsupported Content-Encoding: the Relay endpoints take the body uncompressed (identity)' });
  });

  it('never answers a malformed Host with a 500; the key endpoints still build DSNs from the prefix', async () => {
    for (const host of ['exa mple', '[::1', 'a:99999', '', 'ünïcode.example', '%00', 'a/b?c#d']) {
      const res = await rawRequest(port, { method: 'GET', path: `/api/0/projects/acme/web/keys/${keyId}/`, headers: [['Host', host], auth()] });
      expect(res.status, host).toBe(200);
      expect((res.json as { dsn: { public: string } }).dsn.public, host).toMatch(/^https:\/\/[0-9a-f]{32}@sentry\.example\.com\/\d+$/);
    }
  });

  it('refuses a declared Content-Length over the limit at once with 413 JSON, on admin, relay and unknown routes', async () => {
    const routes: [string, string, [string, string][]][] = [
      ['PUT', '/api/0/organizations/acme/', [auth(), json]],
      ['POST', '/api/0/organizations/', []],
      ['GET', '/api/0/', [auth()]],
      ['POST', '/api/0/relays/projectconfigs/?version=3', [json]],
      ['POST', '/api/0/relays/register/challenge/', [json]],
      ['POST', '/api/0/nothing-here/', [json]],
    ];
    for (const [method, path, headers] of routes) {
      // Two bytes of a declared three million, and the connection left open: nothing to wait for.
      const res = await rawRequest(port, { method, path, headers: [...headers, ['Content-Length', '3000000']], body: '{}', timeoutMs: 3000 });
      expect(res.status, path).toBe(413);
      expect(res.json, path).toMatchObject({ detail: expect.stringContaining('Request body is larger than') });
      expect(res.elapsedMs, path).toBeLessThan(2000);
    }
  });

  it('answers what Node itself cannot parse (a non-numeric Content-Length) in JSON too', async () => {
    const res = await rawRequest(port, { method: 'POST', path: '/api/0/organizations/', headers: [json, ['Content-Length', 'abc']], body: '{}' });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ detail: 'The request is not valid HTTP/1.1' });
  });
});

describe('public URLs come from SYSTEM_URL_PREFIX', () => {
  const hostile: [string, string][] = [
    ['Host', 'evil.example'],
    ['X-Forwarded-Host', 'evil.example'],
    ['X-Forwarded-Proto', 'http'],
  ];

  it('builds Link headers, DSNs and avatar URLs from the prefix even when Host and X-Forwarded-* lie', async () => {
    const list = await rawRequest(port, { method: 'GET', path: '/api/0/projects/acme/web/keys/?per_page=1', headers: [...hostile, auth()] });
    expect(list.status).toBe(200);
    expect(list.headers.link).toContain(`<${PREFIX}/api/0/projects/acme/web/keys/?per_page=1&cursor=1:1:0>; rel="next"`);
    expect(list.headers.link).not.toContain('evil');
    const [key] = list.json as { dsn: { public: string; secret: string } }[];
    expect(key.dsn.public).toMatch(/^https:\/\/[0-9a-f]{32}@sentry\.example\.com\/\d+$/);
    expect(key.dsn.secret).toMatch(/^https:\/\/[0-9a-f]{32}:[0-9a-f]{32}@sentry\.example\.com\/\d+$/);

    const body = JSON.stringify({ avatarType: 'upload', avatar: makePng(8, 8).toString('base64') });
    const org = await rawRequest(port, { method: 'PUT', path: '/api/0/organizations/acme/', headers: [...hostile, auth(), json], body });
    expect(org.status).toBe(200);
    const details = org.json as { avatar: { avatarUrl: string; avatarUuid: string }; links: { organizationUrl: string } };
    expect(details.avatar.avatarUrl).toBe(`${PREFIX}/organization-avatar/${details.avatar.avatarUuid}/`);
    expect(details.links.organizationUrl).toBe(PREFIX);
  });
});

describe("Sentry's permission model", () => {
  it('needs org:write for the audit log, as Sentry does: an org:read token gets 403', async () => {
    const reader = await userWithToken(container, { scopes: ['org:read', 'project:read'] });
    await addMember(container, 'acme', reader.user.id, 'owner');
    const res = await api.get('/api/0/organizations/acme/audit-logs/', reader.token);
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain('"org:write"');
    const writer = await userWithToken(container, { scopes: ['org:write'] });
    await addMember(container, 'acme', writer.user.id, 'owner');
    expect((await api.get('/api/0/organizations/acme/audit-logs/', writer.token)).status).toBe(200);
  });

  it("caps a member's token by its role: an org:admin token of a member can read, not change or delete", async () => {
    const member = await userWithToken(container); // every scope, org:admin and project:admin included
    await addMember(container, 'acme', member.user.id, 'member');
    expect((await api.get('/api/0/organizations/acme/', member.token)).status).toBe(200);
    expect((await api.get('/api/0/projects/acme/web/keys/', member.token)).status).toBe(200);
    const put = await api.put('/api/0/organizations/acme/', { name: 'Mine now' }, member.token);
    expect(put.status).toBe(403);
    expect(put.body.detail).toBe('You do not have permission to perform this action. This needs the "org:write" scope, which your "member" role in this organization does not grant.');
    expect((await api.delete('/api/0/organizations/acme/', member.token)).status).toBe(403);
    expect((await api.get('/api/0/organizations/acme/audit-logs/', member.token)).status).toBe(403);
    expect((await api.post('/api/0/projects/acme/web/keys/', {}, member.token)).status).toBe(403);
    expect((await api.delete(`/api/0/projects/acme/web/keys/${keyId}/`, member.token)).status).toBe(403);
    expect((await em().findOneOrFail(Organization, { slug: 'acme' })).status).toBe('active');
  });

  it('grants each role the scopes of its Sentry role, never more than the token holds', async () => {
    // What each role may do with a token holding every scope: [org write, project write, project admin].
    const expected: Record<MemberRole, [boolean, boolean, boolean]> = {
      member: [false, false, false],
      admin: [false, true, true],
      manager: [true, true, true],
      owner: [true, true, true],
    };
    for (const [role, [orgWrite, projectWrite, projectAdmin]] of Object.entries(expected) as [MemberRole, [boolean, boolean, boolean]][]) {
      const user = await userWithToken(container);
      await addMember(container, 'acme', user.user.id, role);
      expect((await api.put('/api/0/organizations/acme/', {}, user.token)).status, `${role} org:write`).toBe(orgWrite ? 200 : 403);
      const created = await api.post('/api/0/projects/acme/web/keys/', { name: role }, owner.token);
      expect((await api.put(`/api/0/projects/acme/web/keys/${created.body.id}/`, {}, user.token)).status, `${role} project:write`).toBe(projectWrite ? 200 : 403);
      expect((await api.delete(`/api/0/projects/acme/web/keys/${created.body.id}/`, user.token)).status, `${role} project:admin`).toBe(projectAdmin ? 204 : 403);
    }
    // Deleting the organization is the owner's alone.
    const manager = await userWithToken(container);
    await addMember(container, 'acme', manager.user.id, 'manager');
    expect((await api.delete('/api/0/organizations/acme/', manager.token)).status).toBe(403);
    // The role never adds to the token: an owner's read-only token still only reads.
    const reader = await userWithToken(container, { scopes: ['project:read'] });
    await addMember(container, 'acme', reader.user.id, 'owner');
    expect((await api.put('/api/0/projects/acme/web/', {}, reader.token)).status).toBe(403);
  });
});
