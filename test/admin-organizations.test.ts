import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry, Organization, OrganizationAvatar, OrganizationOption } from '../src/db/entities';
import { cacheConfigs, cachedConfig, configOf, createOrgWithProject, makeJpeg, makePng, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

let container: Container;
let api: ApiClient;
let token: string;

beforeAll(async () => {
  container = await testContainer();
  ({ token } = await userWithToken(container));
  api = await startApi(container, token);
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const em = () => container.orm.em.fork();

async function orgOptions(slug: string): Promise<Record<string, unknown>> {
  const rows = await em().find(OrganizationOption, { organization: { slug } });
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

async function auditOf(slug: string, event?: string) {
  return em().find(AuditLogEntry, { organization: { slug }, ...(event ? { event } : {}) }, { orderBy: { id: 'asc' } });
}

describe('POST /api/0/organizations/', () => {
  it('creates an organization (201) with the slug given or derived from the name, and audits it', async () => {
    const res = await api.post('/api/0/organizations/', { name: 'Ünïcode & Co.' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ slug: 'unicode-co', name: 'Ünïcode & Co.', status: { id: 'active', name: 'active' }, isEarlyAdopter: false, require2FA: false });
    expect(res.body.id).toMatch(/^\d+$/);
    expect(res.body.avatar).toEqual({ avatarType: 'letter_avatar', avatarUuid: null, avatarUrl: null });
    expect((await auditOf('unicode-co', 'org.add'))[0].data).toEqual({ slug: 'unicode-co', name: 'Ünïcode & Co.' });

    const given = await api.post('/api/0/organizations/', { name: 'Given', slug: 'given-slug' });
    expect(given.status).toBe(201);
    expect(given.body.slug).toBe('given-slug');
  });

  it('answers 409 for a slug that is taken', async () => {
    await api.post('/api/0/organizations/', { name: 'Taken', slug: 'taken' });
    const res = await api.post('/api/0/organizations/', { name: 'Other', slug: 'taken' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ detail: 'An organization with this slug already exists.' });
  });

  it('answers 400 with field errors for bad input', async () => {
    expect((await api.post('/api/0/organizations/', {})).body).toEqual({ name: ['This field is required.'] });
    expect((await api.post('/api/0/organizations/', { name: '   ' })).body).toEqual({ name: ['This field may not be blank.'] });
    expect((await api.post('/api/0/organizations/', { name: 42 })).body).toEqual({ name: ['Must be a string.'] });
    expect((await api.post('/api/0/organizations/', { name: 'x'.repeat(65) })).body).toEqual({ name: ['Ensure this field has no more than 64 characters.'] });
    expect((await api.post('/api/0/organizations/', { name: 'Bad', slug: 'Bad Slug' })).body).toEqual({
      slug: ['Enter a valid slug consisting of lowercase letters, numbers, underscores or hyphens. It cannot be entirely numeric.'],
    });
    expect((await api.post('/api/0/organizations/', { name: 'Digits', slug: '1234' })).status).toBe(400);
    expect((await api.post('/api/0/organizations/', { name: '!!!' })).body).toEqual({ slug: ['Could not derive a slug from the name; give one with "slug".'] });
    expect((await api.post('/api/0/organizations/', { name: 'Extra', color: 'red' })).body).toEqual({ color: ['Unknown field.'] });
  });

  it('answers 400/413/415 JSON errors for bodies that are not JSON objects', async () => {
    await api.post('/api/0/organizations/', { name: 'Bodies', slug: 'bodies' });
    const malformed = await api.request('POST', '/api/0/organizations/', { rawBody: '{"name": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({ detail: 'Malformed JSON in the request body' });
    const list = await api.request('POST', '/api/0/organizations/', { rawBody: '[1,2]', headers: { 'content-type': 'application/json' } });
    expect(list.status).toBe(400);
    expect(list.body).toEqual({ detail: 'The request body must be a JSON object' });
    const text = await api.request('POST', '/api/0/organizations/', { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(text.status).toBe(415);
    expect(text.body.detail).toContain('application/json');
    const nul = await api.post('/api/0/organizations/', { name: 'a\u0000b' });
    expect(nul.status).toBe(400);
    expect(nul.body).toEqual({ detail: 'Text in the request body may not contain NUL (\\u0000) characters' });
    expect((await api.put('/api/0/organizations/bodies/', { options: { 'sentry:features\u0000': [] } })).status).toBe(400);
    expect((await api.get('/api/0/organizations/%00/')).status).toBe(404);
    const badEscape = await api.get('/api/0/organizations/%E0%A4%A/');
    expect(badEscape.status).toBe(400);
    expect(badEscape.body).toEqual({ detail: 'Malformed percent-encoding in the URL path' });
    const proto = await api.request('PUT', '/api/0/organizations/bodies/', { rawBody: '{"__proto__": {"name": "x"}}', headers: { 'content-type': 'application/json' } });
    expect(proto.status).toBe(400);
    expect(Object.keys(proto.body)).toEqual(['__proto__']);
    expect(proto.body.__proto__[0]).toContain('Unknown field.');
    const huge = await api.request('PUT', '/api/0/organizations/bodies/', { rawBody: JSON.stringify({ name: 'x'.repeat(3 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
    expect(huge.status).toBe(413);
  });
});

describe('PUT /api/0/organizations/{org}/ settings', () => {
  it('stores every setting as its organization option and shows the effective values', async () => {
    await createOrgWithProject(api, token, 'settings');
    const pii = JSON.stringify({ rules: { ids: { type: 'pattern', pattern: 'id[0-9]+', redaction: { method: 'hash' } } }, applications: { $string: ['ids'] } });
    const res = await api.put('/api/0/organizations/settings/', {
      dataScrubber: true,
      dataScrubberDefaults: true,
      scrubIPAddresses: true,
      sensitiveFields: [' SSN ', '', 'iban'],
      safeFields: ['OrderId'],
      relayPiiConfig: pii,
      eventRetention: 30,
      options: { 'sentry:ingest-through-trusted-relays-only': 'enabled' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      dataScrubber: true,
      dataScrubberDefaults: true,
      scrubIPAddresses: true,
      sensitiveFields: ['ssn', 'iban'],
      safeFields: ['orderid'],
      relayPiiConfig: pii,
      eventRetention: 30,
      options: { 'sentry:ingest-through-trusted-relays-only': 'enabled' },
    });
    expect(await orgOptions('settings')).toEqual({
      'sentry:require_scrub_data': true,
      'sentry:require_scrub_defaults': true,
      'sentry:require_scrub_ip_address': true,
      'sentry:sensitive_fields': ['ssn', 'iban'],
      'sentry:safe_fields': ['orderid'],
      'sentry:relay_pii_config': pii,
      'sentry:event_retention': 30,
      'sentry:ingest-through-trusted-relays-only': 'enabled',
    });
    const [edit] = await auditOf('settings', 'org.edit');
    expect(edit.data).toMatchObject({ dataScrubber: 'to true', eventRetention: 'to 30', 'sentry:ingest-through-trusted-relays-only': 'to enabled' });

    // The settings reach the config of the organization's keys.
    const keys = await api.get('/api/0/projects/settings/web/keys/');
    const config = (await configOf(container, keys.body[0].id)).config;
    expect(config.eventRetention).toBe(30);
    expect(config.datascrubbingSettings).toMatchObject({ scrubIpAddresses: true, sensitiveFields: ['ssn', 'iban'], excludeFields: ['orderid'] });
    expect(Object.keys(config.piiConfig.rules)).toEqual(['organization:ids']);

    // null unsets an option (back to the registered default).
    const unset = await api.put('/api/0/organizations/settings/', { eventRetention: null, options: { 'sentry:ingest-through-trusted-relays-only': null } });
    expect(unset.body.eventRetention).toBeNull();
    expect(unset.body.options).toEqual({});
    expect(await orgOptions('settings')).not.toHaveProperty('sentry:event_retention');
    const edits = await auditOf('settings', 'org.edit');
    expect(edits[1].data).toEqual({ eventRetention: 'from 30 to null', 'sentry:ingest-through-trusted-relays-only': 'from enabled to null' });
  });

  it('changes name and slug, refuses a slug in use, and records both changes', async () => {
    await api.post('/api/0/organizations/', { name: 'Rename me', slug: 'rename-me' });
    await api.post('/api/0/organizations/', { name: 'Occupied', slug: 'occupied' });
    const conflict = await api.put('/api/0/organizations/rename-me/', { slug: 'occupied' });
    expect(conflict.status).toBe(400);
    expect(conflict.body).toEqual({ slug: ['The slug "occupied" is already in use.'] });
    const res = await api.put('/api/0/organizations/rename-me/', { name: 'Renamed', slug: 'renamed' });
    expect(res.body).toMatchObject({ name: 'Renamed', slug: 'renamed' });
    expect((await api.get('/api/0/organizations/rename-me/')).status).toBe(404);
    expect((await auditOf('renamed', 'org.edit'))[0].data).toEqual({ name: 'from Rename me to Renamed', slug: 'from rename-me to renamed' });
  });

  it('answers 400 with every bad field at once, writing nothing', async () => {
    await api.post('/api/0/organizations/', { name: 'Bad input', slug: 'bad-input' });
    const res = await api.put('/api/0/organizations/bad-input/', {
      dataScrubber: 'yes',
      sensitiveFields: 'ssn',
      relayPiiConfig: '{"applications": {"$string": ["nope"]}}',
      eventRetention: 0,
      allowedDomains: ['x'],
      options: { 'sentry:unknown': 1, 'sentry:origins': ['*'] },
      name: '',
      requireEmailVerification: 'true',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      allowedDomains: [expect.stringContaining('Unknown field.')],
      name: ['This field may not be blank.'],
      requireEmailVerification: ['Must be a boolean.'],
      dataScrubber: ['Invalid value for "sentry:require_scrub_data": Invalid input: expected boolean, received string'],
      sensitiveFields: ['Invalid value for "sentry:sensitive_fields": Invalid input: expected array, received string'],
      relayPiiConfig: ['Invalid value for "sentry:relay_pii_config": Invalid PII config: selector "$string" applies the undefined rule "nope"'],
      eventRetention: [expect.stringContaining('Invalid value for "sentry:event_retention"')],
      options: ['Unknown option "sentry:unknown"', 'Option "sentry:origins" cannot be set on a organization'],
    });
    expect(await orgOptions('bad-input')).toEqual({});
    expect(await auditOf('bad-input', 'org.edit')).toHaveLength(0);
    const notJson = await api.put('/api/0/organizations/bad-input/', { relayPiiConfig: '{not json' });
    expect(notJson.body).toEqual({ relayPiiConfig: ['Invalid value for "sentry:relay_pii_config": Invalid JSON'] });
    expect((await api.put('/api/0/organizations/bad-input/', { options: [1] })).body).toEqual({ options: ['Must be an object of option key to value.'] });
  });
});

describe('organization avatar', () => {
  it('stores an uploaded PNG in PostgreSQL and serves it at the avatarUrl with its content type', async () => {
    await api.post('/api/0/organizations/', { name: 'Avatar', slug: 'avatar' });
    const png = makePng(64, 32);
    const res = await api.put('/api/0/organizations/avatar/', { avatarType: 'upload', avatar: png.toString('base64') });
    expect(res.status).toBe(200);
    const { avatarType, avatarUuid, avatarUrl } = res.body.avatar;
    expect(avatarType).toBe('upload');
    expect(avatarUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(avatarUrl).toBe(`${container.settings.systemUrlPrefix}/organization-avatar/${avatarUuid}/`);
    // The URL names the public prefix; this test's server listens elsewhere.
    const local = (url: string) => `${api.baseUrl}${new URL(url).pathname}`;
    const served = await fetch(local(avatarUrl));
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true);
    const row = await em().findOneOrFail(OrganizationAvatar, { uuid: avatarUuid });
    expect(row.contentType).toBe('image/png');

    // A JPEG (as a data URL) replaces it; the old image is gone.
    const jpeg = makeJpeg(1024, 1024);
    const next = await api.put('/api/0/organizations/avatar/', { avatar: `data:image/jpeg;base64,${jpeg.toString('base64')}` });
    expect(next.body.avatar.avatarType).toBe('upload');
    expect(next.body.avatar.avatarUuid).not.toBe(avatarUuid);
    expect((await fetch(local(avatarUrl))).status).toBe(404);
    const servedJpeg = await fetch(local(next.body.avatar.avatarUrl));
    expect(servedJpeg.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await servedJpeg.arrayBuffer()).equals(jpeg)).toBe(true);

    // Back to the letter avatar: the image is removed.
    const letter = await api.put('/api/0/organizations/avatar/', { avatarType: 'letter_avatar' });
    expect(letter.body.avatar).toEqual({ avatarType: 'letter_avatar', avatarUuid: null, avatarUrl: null });
    expect(await em().count(OrganizationAvatar, { organization: { slug: 'avatar' } })).toBe(0);
    const edits = await auditOf('avatar', 'org.edit');
    expect(edits.map((e) => Object.keys(e.data).sort())).toEqual([['avatarType', 'avatarUuid'], ['avatarUuid'], ['avatarType', 'avatarUuid']]);
  });

  it('rejects what is not a PNG or JPEG of at most 1 MiB and 1024×1024 pixels with a clear 400', async () => {
    await api.post('/api/0/organizations/', { name: 'Bad avatar', slug: 'bad-avatar' });
    const attempt = async (body: unknown) => (await api.put('/api/0/organizations/bad-avatar/', body)).body;
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1').toString('base64');
    expect(await attempt({ avatarType: 'upload', avatar: gif })).toEqual({ avatar: ['The avatar must be a PNG or JPEG image.'] });
    expect(await attempt({ avatarType: 'upload', avatar: 'not base64!' })).toEqual({ avatar: ['The avatar is not valid base64.'] });
    expect(await attempt({ avatarType: 'upload', avatar: 12 })).toEqual({ avatar: ['The avatar must be a base64-encoded PNG or JPEG image.'] });
    expect(await attempt({ avatarType: 'upload', avatar: makePng(1025, 10).toString('base64') })).toEqual({
      avatar: ['The avatar image must be at most 1024×1024 pixels (got 1025×10).'],
    });
    expect(await attempt({ avatarType: 'upload', avatar: makeJpeg(10, 2000).toString('base64') })).toEqual({
      avatar: ['The avatar image must be at most 1024×1024 pixels (got 10×2000).'],
    });
    const big = Buffer.concat([makePng(10, 10), Buffer.alloc(1024 * 1024)]);
    expect(await attempt({ avatarType: 'upload', avatar: big.toString('base64') })).toEqual({ avatar: ['The avatar image must be at most 1048576 bytes (1 MiB).'] });
    expect(await attempt({ avatarType: 'upload' })).toEqual({ avatarType: ['Cannot set avatarType to upload without avatar.'] });
    expect(await attempt({ avatarType: 'gravatar' })).toEqual({ avatarType: ['Must be "letter_avatar" or "upload".'] });
    expect(await attempt({ avatarType: 'letter_avatar', avatar: makePng(1, 1).toString('base64') })).toEqual({ avatar: ['An avatar image needs avatarType "upload".'] });
    expect(await em().count(OrganizationAvatar, { organization: { slug: 'bad-avatar' } })).toBe(0);
    expect((await fetch(`${api.baseUrl}/organization-avatar/not-a-uuid/`)).status).toBe(404);
  });
});

describe('DELETE /api/0/organizations/{org}/', () => {
  it('schedules the deletion (202), disables every cached config of its keys at once, and audits it', async () => {
    const { key } = await createOrgWithProject(api, token, 'doomed');
    const second = await api.post('/api/0/projects/doomed/web/keys/', { name: 'second' });
    await cacheConfigs(container, [key.id, second.body.id]);
    expect((await cachedConfig(container, key.id)).disabled).toBe(false);

    const res = await api.delete('/api/0/organizations/doomed/');
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ slug: 'doomed', status: { id: 'pending_deletion', name: 'pending deletion' } });
    expect(await cachedConfig(container, key.id)).toEqual({ disabled: true });
    expect(await cachedConfig(container, second.body.id)).toEqual({ disabled: true });
    expect(await configOf(container, key.id)).toEqual({ disabled: true });
    expect((await em().findOneOrFail(Organization, { slug: 'doomed' })).status).toBe('pending_deletion');
    expect(await auditOf('doomed', 'org.remove')).toHaveLength(1);

    // Still readable, no longer listed, and closed to changes.
    expect((await api.get('/api/0/organizations/doomed/')).body.status.id).toBe('pending_deletion');
    expect((await api.get('/api/0/organizations/')).body.map((o: { slug: string }) => o.slug)).not.toContain('doomed');
    const put = await api.put('/api/0/organizations/doomed/', { name: 'Back' });
    expect(put.status).toBe(409);
    expect(put.body).toEqual({ detail: 'The organization is pending deletion.' });
    expect((await api.post('/api/0/teams/doomed/backend/projects/', { name: 'New' })).status).toBe(409);
    // Deleting again is harmless and records nothing more.
    expect((await api.delete('/api/0/organizations/doomed/')).status).toBe(202);
    expect(await auditOf('doomed', 'org.remove')).toHaveLength(1);
  });
});

describe('GET /api/0/organizations/{org}/audit-logs/', () => {
  it('lists entries newest first with their actor, filters by event, and rejects unknown events', async () => {
    await createOrgWithProject(api, token, 'audited');
    await api.put('/api/0/organizations/audited/', { dataScrubber: true });
    const res = await api.get('/api/0/organizations/audited/audit-logs/');
    expect(res.status).toBe(200);
    expect(res.body.rows.map((r: { event: string }) => r.event)).toEqual(['org.edit', 'projectkey.add', 'project.add', 'team.add', 'org.add']);
    expect(res.body.rows[0]).toMatchObject({ event: 'org.edit', data: { dataScrubber: 'to true' }, actor: { email: expect.stringContaining('@example.com') } });
    expect(res.body.options).toContain('org.edit');
    const filtered = await api.get('/api/0/organizations/audited/audit-logs/?event=team.add');
    expect(filtered.body.rows.map((r: { event: string }) => r.event)).toEqual(['team.add']);
    const paged = await api.get('/api/0/organizations/audited/audit-logs/?per_page=2');
    expect(paged.body.rows).toHaveLength(2);
    expect(paged.headers.get('link')).toContain('rel="next"; results="true"');
    const bad = await api.get('/api/0/organizations/audited/audit-logs/?event=nope');
    expect(bad.status).toBe(400);
    expect(bad.body.event[0]).toContain('Unknown event');
  });
});

describe('teams', () => {
  it('creates a team (201), refuses a duplicate slug (409) and bad input (400), and lists teams', async () => {
    await api.post('/api/0/organizations/', { name: 'Teams', slug: 'teams' });
    const res = await api.post('/api/0/organizations/teams/teams/', { name: 'Platform Team' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ slug: 'platform-team', name: 'Platform Team' });
    const dup = await api.post('/api/0/organizations/teams/teams/', { name: 'Again', slug: 'platform-team' });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ detail: 'A team with this slug already exists.' });
    expect((await api.post('/api/0/organizations/teams/teams/', { slug: 'x' })).body).toEqual({ name: ['This field is required.'] });
    expect((await api.get('/api/0/organizations/teams/teams/')).body.map((t: { slug: string }) => t.slug)).toEqual(['platform-team']);
  });
});
