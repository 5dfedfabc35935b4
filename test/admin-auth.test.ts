import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiToken, hashApiToken } from '../src/admin/auth';
import type { Container } from '../src/container';
import { ApiToken, OrganizationMember, User } from '../src/db/entities';
import { addMember, createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

let container: Container;
let api: ApiClient;
let owner: { user: User; token: string };
let keyId: string;

beforeAll(async () => {
  container = await testContainer();
  owner = await userWithToken(container, { email: 'owner@example.com' });
  api = await startApi(container);
  ({ key: { id: keyId } } = await createOrgWithProject(api, owner.token, 'acme'));
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const orgPaths = () => [
  '/api/0/organizations/acme/',
  '/api/0/organizations/acme/projects/',
  '/api/0/organizations/acme/audit-logs/',
  '/api/0/organizations/acme/teams/',
  '/api/0/organizations/acme/project-templates/',
  '/api/0/projects/acme/web/',
  '/api/0/projects/acme/web/keys/',
  `/api/0/projects/acme/web/keys/${keyId}/`,
  '/api/0/projects/acme/web/filters/localhost/',
];

describe('authentication', () => {
  it('answers 401 with a detail when no token is sent', async () => {
    for (const path of ['/api/0/', '/api/0/organizations/', ...orgPaths()]) {
      const res = await api.get(path, null);
      expect(res.status, path).toBe(401);
      expect(res.body, path).toEqual({ detail: 'Authentication credentials were not provided.' });
    }
    const post = await api.post('/api/0/organizations/', { name: 'x' }, null);
    expect(post.status).toBe(401);
    // The token is checked before the body is read.
    const malformed = await api.request('PUT', '/api/0/organizations/acme/', { token: null, rawBody: '{oops', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(401);
  });

  it('answers 401 for a malformed, unknown or revoked token and for an inactive user', async () => {
    expect((await api.get('/api/0/organizations/', 'not-a-token')).body).toEqual({ detail: 'Invalid token' });
    expect((await api.get('/api/0/organizations/', generateApiToken())).status).toBe(401);
    const basic = await api.request('GET', '/api/0/organizations/', { token: null, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.status).toBe(401);
    expect(basic.body.detail).toContain('Bearer');

    const inactive = await userWithToken(container);
    const em = container.orm.em.fork();
    await em.nativeUpdate(User, { id: inactive.user.id }, { isActive: false });
    expect((await api.get('/api/0/', inactive.token)).status).toBe(401);

    const revoked = await userWithToken(container);
    await em.nativeDelete(ApiToken, { hashedToken: hashApiToken(revoked.token) });
    expect((await api.get('/api/0/', revoked.token)).body).toEqual({ detail: 'Invalid token' });
  });

  it('stores only the SHA-256 of a token', async () => {
    const row = await container.orm.em.fork().findOneOrFail(ApiToken, { user: owner.user.id });
    expect(row.hashedToken).toBe(hashApiToken(owner.token));
    expect(row.hashedToken).not.toContain(owner.token.slice(7));
  });
});

describe('permissions', () => {
  it('makes the creator of an organization its owner', async () => {
    const members = await container.orm.em.fork().find(OrganizationMember, { organization: { slug: 'acme' } }, { populate: ['user'] });
    expect(members.map((m) => [(m.user as User).email, m.role])).toEqual([['owner@example.com', 'owner']]);
  });

  it('answers 404 to a non-member for the organization and everything under it, whatever the token scopes', async () => {
    const stranger = await userWithToken(container);
    for (const path of orgPaths()) {
      const res = await api.get(path, stranger.token);
      expect(res.status, path).toBe(404);
      expect(res.body, path).toEqual({ detail: 'The requested resource does not exist' });
    }
    expect((await api.put('/api/0/organizations/acme/', { name: 'Mine' }, stranger.token)).status).toBe(404);
    expect((await api.delete('/api/0/projects/acme/web/', stranger.token)).status).toBe(404);
    expect((await api.post('/api/0/teams/acme/backend/projects/', { name: 'x' }, stranger.token)).status).toBe(404);
    // Unknown organizations look the same.
    expect((await api.get('/api/0/organizations/nope/', stranger.token)).status).toBe(404);
    expect((await api.get('/api/0/organizations/', stranger.token)).body).toEqual([]);
  });

  it('answers 403 to a member whose token lacks the scope: reads need read, changes write, deletions admin', async () => {
    const reader = await userWithToken(container, { scopes: ['org:read', 'project:read'] });
    await addMember(container, 'acme', reader.user.id, 'owner');
    expect((await api.get('/api/0/organizations/acme/', reader.token)).status).toBe(200);
    expect((await api.get('/api/0/projects/acme/web/keys/', reader.token)).status).toBe(200);
    const put = await api.put('/api/0/organizations/acme/', { name: 'Renamed' }, reader.token);
    expect(put.status).toBe(403);
    expect(put.body.detail).toContain('"org:write"');
    expect((await api.put('/api/0/projects/acme/web/', { name: 'Renamed' }, reader.token)).status).toBe(403);
    expect((await api.post('/api/0/projects/acme/web/keys/', {}, reader.token)).status).toBe(403);

    const writer = await userWithToken(container, { scopes: ['org:write', 'project:write'] });
    await addMember(container, 'acme', writer.user.id);
    // A stronger scope of the same kind includes the weaker one.
    expect((await api.get('/api/0/organizations/acme/', writer.token)).status).toBe(200);
    expect((await api.delete('/api/0/organizations/acme/', writer.token)).status).toBe(403);
    expect((await api.delete('/api/0/projects/acme/web/', writer.token)).status).toBe(403);
    expect((await api.delete(`/api/0/projects/acme/web/keys/${keyId}/`, writer.token)).status).toBe(403);

    const projectOnly = await userWithToken(container, { scopes: ['project:read'] });
    await addMember(container, 'acme', projectOnly.user.id);
    expect((await api.get('/api/0/organizations/acme/', projectOnly.token)).status).toBe(403);
    expect((await api.get('/api/0/organizations/acme/projects/', projectOnly.token)).status).toBe(200);
    expect((await api.get('/api/0/organizations/', projectOnly.token)).status).toBe(403);
  });

  it('lets a superuser act on any organization, but only within the token scopes', async () => {
    const admin = await userWithToken(container, { superuser: true });
    expect((await api.get('/api/0/organizations/acme/', admin.token)).status).toBe(200);
    expect((await api.get('/api/0/projects/acme/web/keys/', admin.token)).status).toBe(200);
    expect((await api.get('/api/0/organizations/', admin.token)).body.map((o: { slug: string }) => o.slug)).toContain('acme');

    const readOnlyAdmin = await userWithToken(container, { superuser: true, scopes: ['org:read'] });
    expect((await api.get('/api/0/organizations/acme/', readOnlyAdmin.token)).status).toBe(200);
    expect((await api.put('/api/0/organizations/acme/', { name: 'Taken over' }, readOnlyAdmin.token)).status).toBe(403);
    expect((await api.get('/api/0/projects/acme/web/', readOnlyAdmin.token)).status).toBe(403);
  });

  it('needs org:write to create an organization', async () => {
    const reader = await userWithToken(container, { scopes: ['org:read'] });
    expect((await api.post('/api/0/organizations/', { name: 'New' }, reader.token)).status).toBe(403);
  });
});

describe('what sentry-cli asks first', () => {
  it('GET /api/0/ names the token user and its scopes', async () => {
    const limited = await userWithToken(container, { email: 'cli@example.com', name: 'CLI User', scopes: ['project:read', 'org:read'] });
    const res = await api.get('/api/0/', limited.token);
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: String(limited.user.id), name: 'CLI User', username: 'cli@example.com', email: 'cli@example.com' });
    expect(res.body.auth).toEqual({ scopes: ['org:read', 'project:read'] });
  });

  it('answers the regions question with 404 (a single region)', async () => {
    const res = await api.get('/api/0/users/me/regions/', owner.token);
    expect(res.status).toBe(404);
    expect(res.body.detail).toContain('single region');
  });

  it('keeps unknown paths a plain 404, also under /api/0/relays/', async () => {
    expect((await api.get('/api/0/relays/nothing-here/', null)).status).toBe(404);
    expect((await api.get('/api/0/nothing-here/', null)).status).toBe(404);
  });
});

describe('organization list and pagination', () => {
  it('lists only the organizations of the user, paginated with Sentry Link headers', async () => {
    const user = await userWithToken(container);
    for (const slug of ['page-a', 'page-b', 'page-c']) {
      expect((await api.post('/api/0/organizations/', { name: slug, slug }, user.token)).status).toBe(201);
    }
    const first = await api.get('/api/0/organizations/?per_page=2', user.token);
    expect(first.body.map((o: { slug: string }) => o.slug)).toEqual(['page-a', 'page-b']);
    for (const field of ['id', 'slug', 'name', 'dateCreated', 'isEarlyAdopter', 'require2FA']) expect(first.body[0]).toHaveProperty(field);
    expect(typeof first.body[0].id).toBe('string');
    const link = first.headers.get('link')!;
    expect(link).toContain('rel="previous"; results="false"; cursor="2:-1:1"');
    expect(link).toContain('rel="next"; results="true"; cursor="2:1:0"');
    const next = new URL(/<([^>]+)>; rel="next"/.exec(link)![1]);
    expect(next.origin).toBe(container.settings.systemUrlPrefix);
    const second = await api.get(`${next.pathname}${next.search}`, user.token);
    expect(second.body.map((o: { slug: string }) => o.slug)).toEqual(['page-c']);
    expect(second.headers.get('link')).toContain('rel="next"; results="false"');
    expect(second.headers.get('link')).toContain('rel="previous"; results="true"; cursor="2:0:1"');
  });

  it('rejects a malformed cursor or page size with 400', async () => {
    expect((await api.get('/api/0/organizations/?cursor=abc', owner.token)).body).toEqual({ detail: 'Invalid cursor parameter.' });
    expect((await api.get('/api/0/organizations/?cursor=100:-1:1', owner.token)).status).toBe(400);
    expect((await api.get('/api/0/organizations/?per_page=0', owner.token)).status).toBe(400);
  });
});
