import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../src/container';
import { AuditLogEntry } from '../src/db/entities';
import { createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer, testSettings } from './support/harness';

/**
 * Issue 10, part 8: every change of a setting that feeds a new config field (feature overrides,
 * sampling settings, filter switches, template options) leaves exactly its scope in the outbox,
 * in the transaction of the change, and one audit entry; saving the same value again leaves
 * neither. The PUTs go to an API process that cannot reach Redis, so the rows stay in the table
 * to be read (as they would during an outage).
 */

let up: Container;
let down: Container;
let setup: ApiClient;
let api: ApiClient;
let ids: { organization: number; project: number; template: string };

const outboxScopes = async (): Promise<unknown[]> => {
  const rows = await up.orm.em.getConnection().execute<{ payload: { change?: { scope: unknown } } }[]>('select "payload" from "config_outbox" order by "id"');
  const scopes = rows.map((r) => JSON.stringify(r.payload.change?.scope ?? r.payload));
  return [...new Set(scopes)].map((s) => JSON.parse(s) as unknown);
};
const clearOutbox = () => up.orm.em.getConnection().execute('delete from "config_outbox"');
const auditCount = () => up.orm.em.fork().count(AuditLogEntry, { organization: ids.organization });
const lastAudit = async () => (await up.orm.em.fork().find(AuditLogEntry, { organization: ids.organization }, { orderBy: { id: 'desc' }, limit: 1 }))[0];

beforeAll(async () => {
  up = await testContainer({ INVALIDATION_DELAY_MS: '60000' });
  const { token } = await userWithToken(up);
  setup = await startApi(up, token);
  await createOrgWithProject(setup, token, 'part8');
  // Custom sample rates need the flag (as in Sentry).
  expect((await setup.put('/api/0/organizations/part8/', { featureOverrides: { 'organizations:dynamic-sampling-custom': true } })).status).toBe(200);
  const template = await setup.post('/api/0/organizations/part8/project-templates/', { name: 'Defaults', options: { 'sentry:scrub_data': true } });
  expect(template.status).toBe(201);
  const organization = await setup.get('/api/0/organizations/part8/');
  const project = await setup.get('/api/0/projects/part8/web/');
  ids = { organization: Number(organization.body.id), project: Number(project.body.id), template: template.body.id as string };

  const settings = testSettings({ DATABASE_URL: up.settings.databaseUrl, REDIS_URL: 'redis://127.0.0.1:1/0', REDIS_KEY_PREFIX: up.settings.redisKeyPrefix });
  down = await createContainer(settings, 'api', { logger: pino({ level: 'silent' }) });
  api = await startApi(down, token);
});

afterAll(async () => {
  await api.close();
  await setup.close();
  await down.close();
  await up.close();
});

const organizationScope = () => ({ scope: 'organization', organizationId: ids.organization });
const projectScope = () => ({ scope: 'project', organizationId: ids.organization, projectId: ids.project });
const templateScope = () => ({ scope: 'template', organizationId: ids.organization, templateId: Number(ids.template) });

interface Case {
  setting: string;
  path: () => string;
  body: unknown;
  scope: () => unknown;
  event: string;
  /** The key the audit entry names the change by. */
  audited: string;
}

const cases: Case[] = [
  { setting: 'organization featureOverrides', path: () => '/api/0/organizations/part8/', body: { featureOverrides: { 'organizations:profiling': false } }, scope: organizationScope, event: 'org.edit', audited: 'featureOverrides' },
  { setting: 'project featureOverrides', path: () => '/api/0/projects/part8/web/', body: { featureOverrides: { 'organizations:session-replay': false } }, scope: projectScope, event: 'project.edit', audited: 'featureOverrides' },
  { setting: 'organization samplingMode', path: () => '/api/0/organizations/part8/', body: { samplingMode: 'project' }, scope: organizationScope, event: 'org.edit', audited: 'samplingMode' },
  { setting: 'organization targetSampleRate', path: () => '/api/0/organizations/part8/', body: { targetSampleRate: 0.25 }, scope: organizationScope, event: 'org.edit', audited: 'targetSampleRate' },
  { setting: 'project targetSampleRate', path: () => '/api/0/projects/part8/web/', body: { targetSampleRate: 0.4 }, scope: projectScope, event: 'project.edit', audited: 'targetSampleRate' },
  {
    setting: 'project dynamicSamplingBiases',
    path: () => '/api/0/projects/part8/web/',
    body: { dynamicSamplingBiases: [{ id: 'boostEnvironments', active: false }] },
    scope: projectScope,
    event: 'project.edit',
    audited: 'dynamicSamplingBiases',
  },
  { setting: 'filter switch (localhost)', path: () => '/api/0/projects/part8/web/filters/localhost/', body: { active: true }, scope: projectScope, event: 'project.edit', audited: 'filters:localhost' },
  { setting: 'filter switch (health checks)', path: () => '/api/0/projects/part8/web/filters/filtered-transaction/', body: { active: false }, scope: projectScope, event: 'project.edit', audited: 'filters:filtered-transaction' },
  { setting: 'filter switch (chunk-load-error)', path: () => '/api/0/projects/part8/web/filters/chunk-load-error/', body: { active: false }, scope: projectScope, event: 'project.edit', audited: 'filters:chunk-load-error' },
  {
    setting: 'legacy-browsers subfilters',
    path: () => '/api/0/projects/part8/web/filters/legacy-browsers/',
    body: { subfilters: ['ie_pre_9', 'safari_pre_6'] },
    scope: projectScope,
    event: 'project.edit',
    audited: 'filters:legacy-browsers',
  },
  { setting: 'custom inbound filter (error messages)', path: () => '/api/0/projects/part8/web/', body: { options: { 'sentry:error_messages': ['*timeout*'] } }, scope: projectScope, event: 'project.edit', audited: 'sentry:error_messages' },
  {
    setting: 'template options',
    path: () => `/api/0/organizations/part8/project-templates/${ids.template}/`,
    body: { options: { 'sentry:scrub_data': false, 'filters:web-crawlers': '0' } },
    scope: templateScope,
    event: 'projecttemplate.edit',
    audited: 'sentry:scrub_data',
  },
];

describe('a change of a setting that feeds a new config field', () => {
  it.each(cases)('$setting: exactly its scope in the outbox, one audit entry; the same value again leaves neither', async (c) => {
    await clearOutbox();
    const audits = await auditCount();
    const res = await api.put(c.path(), c.body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await outboxScopes()).toEqual([c.scope()]);
    expect(await auditCount()).toBe(audits + 1);
    const entry = await lastAudit();
    expect(entry?.event).toBe(c.event);
    expect(Object.keys(entry?.data ?? {})).toContain(c.audited);

    await clearOutbox();
    expect((await api.put(c.path(), c.body)).status).toBe(200);
    expect(await outboxScopes()).toEqual([]);
    expect(await auditCount()).toBe(audits + 1);
  });
});
