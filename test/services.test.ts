import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry, Organization, OrganizationOption, type Project, ProjectKey, Relay, Team, User } from '../src/db/entities';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../src/errors';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import type { AuditActor } from '../src/services/audit';
import { invalidateScope, showConfig } from '../src/services/configs';
import { createKey, deleteKey, updateKey } from '../src/services/keys';
import { organizationBySlug, projectBySlug } from '../src/services/locate';
import { createOrganization, deleteOrganization, updateOrganizationSettings } from '../src/services/organizations';
import { createProjectConfigService, replyBody, type ProjectConfigService } from '../src/services/project-configs';
import { createReplyBudget } from '../src/services/reply-budget';
import { createProject } from '../src/services/projects';
import { removeRelay } from '../src/services/relays';
import { createTeam } from '../src/services/teams';
import { testContainer } from './support/harness';
import { withoutVolatile } from './support/settle';

/**
 * The use cases called directly, without HTTP, as the CLI and job processors call them: the rules
 * (validation, audit, scheduling, access to configs) hold whoever the caller is.
 */

let container: Container;
let owner: User;
let configs: ProjectConfigService;
const operator: AuditActor = { user: null, label: 'operator' };
const em = () => container.orm.em.fork();

beforeAll(async () => {
  container = await testContainer({ INVALIDATION_DELAY_MS: '60000' });
  const fork = em();
  owner = fork.create(User, { email: 'owner@example.com', name: 'Owner', emailVerified: true });
  await fork.flush();
  const { settings, metrics, logger, orm, configCache, queues } = container;
  configs = createProjectConfigService({ settings, metrics, logger, orm, configCache, buildQueue: queues.build });
});

afterAll(async () => {
  await container.close();
});

/** An organization with a team, a project and its first key, made through the services. */
async function organizationWithProject(slug: string): Promise<{ organization: Organization; project: Project; publicKey: string }> {
  const organization = await createOrganization(em(), { actor: operator, owner, input: { name: `Org ${slug}`, slug } });
  await createTeam(em(), { actor: operator, target: organizationBySlug(slug, { mustBeActive: true }), input: () => ({ name: 'Backend' }) });
  const project = await createProject(em(), {
    actor: operator,
    target: async (tem) => {
      const org = await organizationBySlug(slug, { mustBeActive: true })(tem);
      return { organization: org, team: await tem.findOneOrFail(Team, { organization: org, slug: 'backend' }) };
    },
    input: () => ({ name: 'Web', platform: 'javascript' }),
  });
  const key = await em().findOneOrFail(ProjectKey, { project: project.id });
  return { organization, project, publicKey: key.publicKey };
}

const auditOf = async (organization: Organization, event: string) => em().find(AuditLogEntry, { organization: organization.id, event }, { orderBy: { id: 'asc' } });

describe('organization settings without HTTP', () => {
  it('saves name, trusted relays and options in one org.edit entry naming the system actor', async () => {
    const { organization } = await organizationWithProject('svc-settings');
    const relayKey = generateRelayKeyPair().public;
    const saved = await updateOrganizationSettings(em(), { emailVerification: container.queues['email-verification'], defaultFeatures: container.settings.defaultFeatures }, {
      actor: operator,
      target: organizationBySlug('svc-settings', { lock: true, mustBeActive: true }),
      input: { name: 'Renamed', trustedRelays: [{ publicKey: relayKey, name: ' edge ' }], sensitiveFields: [' SSN ', ''] },
    });
    expect(saved.name).toBe('Renamed');
    const stored = await em().find(OrganizationOption, { organization: organization.id }, { orderBy: { key: 'asc' } });
    expect(stored.map((o) => o.key)).toEqual(['sentry:sensitive_fields', 'sentry:trusted-relays']);
    expect(stored[0].value).toEqual(['ssn']);
    expect(stored[1].value).toEqual([expect.objectContaining({ publicKey: relayKey, name: 'edge', description: '' })]);
    const [entry, ...more] = await auditOf(organization, 'org.edit');
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ actor: null, actorLabel: 'operator' });
    expect(Object.keys(entry.data).sort()).toEqual(['name', 'sensitiveFields', 'trustedRelays']);
  });

  it('reports every bad field in one ValidationError and writes nothing', async () => {
    const { organization } = await organizationWithProject('svc-invalid');
    const error = await updateOrganizationSettings(em(), { emailVerification: container.queues['email-verification'], defaultFeatures: container.settings.defaultFeatures }, {
      actor: operator,
      target: organizationBySlug('svc-invalid', { lock: true, mustBeActive: true }),
      input: { name: 'Fine', slug: 'Not A Slug', trustedRelays: [{ name: 'no key' }], bogus: 1 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(Object.keys((error as ValidationError).fields).sort()).toEqual(['bogus', 'slug', 'trustedRelays']);
    expect((await em().findOneOrFail(Organization, { id: organization.id })).name).toBe('Org svc-invalid');
    expect(await auditOf(organization, 'org.edit')).toEqual([]);
  });

  it('schedules the clean-up of unverified members when requireEmailVerification is turned on', async () => {
    const { organization } = await organizationWithProject('svc-verify');
    await updateOrganizationSettings(em(), { emailVerification: container.queues['email-verification'], defaultFeatures: container.settings.defaultFeatures }, {
      actor: operator,
      target: organizationBySlug('svc-verify', { lock: true, mustBeActive: true }),
      input: { requireEmailVerification: true },
    });
    const jobs = await container.queues['email-verification'].getJobs(['waiting', 'delayed', 'active', 'completed']);
    expect(jobs.map((j) => j.data.organizationId)).toContain(organization.id);
  });

  it('refuses changes under an organization pending deletion, and names what does not exist', async () => {
    await organizationWithProject('svc-deleted');
    await deleteOrganization(em(), { actor: operator, target: organizationBySlug('svc-deleted', { lock: true }) });
    const save = updateOrganizationSettings(em(), { emailVerification: container.queues['email-verification'], defaultFeatures: container.settings.defaultFeatures }, {
      actor: operator,
      target: organizationBySlug('svc-deleted', { lock: true, mustBeActive: true }),
      input: { name: 'Too late' },
    });
    await expect(save).rejects.toBeInstanceOf(ConflictError);
    await expect(createKey(em(), { actor: operator, target: projectBySlug('svc-deleted', 'web', { mustBeActive: true }), input: () => ({}) })).rejects.toBeInstanceOf(ConflictError);
    await expect(createKey(em(), { actor: operator, target: projectBySlug('svc-nope', 'web'), input: () => ({}) })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('keys without HTTP', () => {
  it('creates, changes and deletes a key, auditing each change and only real ones', async () => {
    const { organization } = await organizationWithProject('svc-keys');
    const target = projectBySlug('svc-keys', 'web', { mustBeActive: true });
    const key = await createKey(em(), { actor: operator, target, input: () => ({ name: 'CI', rateLimit: { count: 10, window: 60 } }) });
    expect(key.publicKey).toMatch(/^[0-9a-f]{32}$/);
    const keyTarget = async (tem: Parameters<typeof target>[0]) => {
      const project = await projectBySlug('svc-keys', 'web', { lock: true })(tem);
      return { project, key: await tem.findOneOrFail(ProjectKey, { project, publicKey: key.publicKey }) };
    };
    await updateKey(em(), { actor: operator, target: keyTarget, input: () => ({ isActive: false }) });
    await updateKey(em(), { actor: operator, target: keyTarget, input: () => ({ isActive: false, name: 'CI' }) });
    await expect(updateKey(em(), { actor: operator, target: keyTarget, input: () => ({ rateLimit: { count: -1, window: 0 } }) })).rejects.toBeInstanceOf(ValidationError);
    expect((await em().findOneOrFail(ProjectKey, { publicKey: key.publicKey })).status).toBe('inactive');
    await deleteKey(em(), { actor: operator, target: keyTarget });
    expect(await em().count(ProjectKey, { publicKey: key.publicKey })).toBe(0);
    expect((await auditOf(organization, 'projectkey.add')).length).toBe(2); // the project's first key and this one
    expect((await auditOf(organization, 'projectkey.edit')).map((e) => e.data)).toEqual([{ project: 'web', publicKey: key.publicKey, isActive: 'from true to false' }]);
    expect((await auditOf(organization, 'projectkey.remove')).length).toBe(1);
  });
});

describe('configs without HTTP', () => {
  it('configs show computes what the Relay endpoint computes, and invalidateScope finds the scope or says what is missing', async () => {
    const { publicKey } = await organizationWithProject('svc-configs');
    const shown = await showConfig(container, publicKey);
    expect('config' in shown && shown.config.disabled).toBe(false);
    const body = await configs.versionTwo({ internal: true, publicKey: generateRelayKeyPair().public }, [publicKey]);
    const served = JSON.parse(replyBody(body).toString('utf8')).configs[publicKey];
    expect(served.disabled).toBe(false);
    expect(withoutVolatile('config' in shown ? shown.config : null)).toEqual(withoutVolatile(served));

    expect(await invalidateScope(container, { organization: 'svc-configs', project: 'web' })).toBe(1);
    await expect(invalidateScope(container, { organization: 'svc-configs', project: 'nope' })).rejects.toThrow('Project `svc-configs/nope` does not exist');
    await expect(invalidateScope(container, { publicKey: 'not-a-key' })).rejects.toThrow('Key `not-a-key` does not exist');
  });

  it('v3 splices the cached bytes for an internal relay, and refuses trusted relays and v1 for them unless allowed', async () => {
    const { publicKey } = await organizationWithProject('svc-v3');
    const internal = { internal: true, publicKey: generateRelayKeyPair().public };
    // The first poll claims the key and schedules its build; v2 fills the cache meanwhile.
    const first = JSON.parse(replyBody(await configs.versionThree(internal, { keys: [publicKey], revisions: [null], noCache: false, global: false })).toString('utf8'));
    expect(first).toEqual({ configs: {}, pending: [publicKey] });
    expect((await container.queues.build.getJobs(['waiting', 'delayed', 'active'])).some((j) => j.data.publicKeys.includes(publicKey))).toBe(true);
    await configs.versionTwo(internal, [publicKey]);
    const stored = await container.redis.getBuffer(container.layout.config(publicKey));
    const plain = `{"configs":{"${publicKey}":${stored!.toString('utf8')}},"pending":[]}`;
    const body = await configs.versionThree(internal, { keys: [publicKey], revisions: [null], noCache: false, global: false });
    expect(body.gzip).toBe(false);
    expect(replyBody(body).toString('utf8')).toBe(plain);
    expect(body.length).toBe(Buffer.byteLength(plain));
    // With gzip accepted: the stored piece spliced in, decoding to exactly the plain reply.
    const gzipped = await configs.versionThree(internal, { keys: [publicKey], revisions: [null], noCache: false, global: false, acceptsGzip: true });
    expect(gzipped.gzip).toBe(true);
    expect(gunzipSync(replyBody(gzipped)).toString('utf8')).toBe(plain);

    const trusted = { internal: false, publicKey: generateRelayKeyPair().public };
    expect(() => configs.authorize(trusted)).toThrow(AppError);
    await expect(configs.versionOne(trusted, [1])).rejects.toMatchObject({ status: 403, body: 'Relay unauthorized for config information' });
  });

  it('a reply that waited its longest for the reply budget lists cached keys as pending unread, still claims missing ones, and the next poll gets them', async () => {
    const cachedKey = (await organizationWithProject('svc-budget-a')).publicKey;
    const missingKey = (await organizationWithProject('svc-budget-b')).publicKey;
    const internal = { internal: true, publicKey: generateRelayKeyPair().public };
    const { settings, metrics, logger, orm, configCache, queues } = container;
    const budget = createReplyBudget(1, 50);
    const tight = createProjectConfigService({ settings, metrics, logger, orm, configCache, buildQueue: queues.build }, budget);
    await tight.versionTwo(internal, [cachedKey]); // computes and caches it
    const request = { keys: [cachedKey, missingKey], revisions: [null, null], noCache: false, global: false };
    const heldBack = async () => (await metrics.projectConfigKeys.get()).values.find((v) => v.labels.result === 'held_back')?.value ?? 0;
    const before = await heldBack();

    // A slow client's reply holds the whole budget and is not written yet.
    const slow = await budget.acquire(1);
    const started = Date.now();
    const deferred = await tight.versionThree(internal, request);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(JSON.parse(replyBody(deferred).toString('utf8'))).toEqual({ configs: {}, pending: [cachedKey, missingKey] });
    expect(await heldBack()).toBe(before + 1);
    expect(budget.held).toBe(1); // only the slow reply's bytes
    // The missing key was claimed and its build scheduled all the same.
    expect(await container.redis.get(container.layout.claim(missingKey))).not.toBeNull();
    expect((await queues.build.getJobs(['waiting', 'delayed', 'active'])).some((j) => j.data.publicKeys.includes(missingKey))).toBe(true);

    // Once the slow reply is written, the cached key is answered again.
    slow.release();
    const next = JSON.parse(replyBody(await tight.versionThree(internal, request)).toString('utf8')) as { configs: Record<string, unknown>; pending: string[] };
    expect(Object.keys(next.configs)).toEqual([cachedKey]);
    expect(next.pending).toEqual([missingKey]);
  });
});

describe('relays without HTTP', () => {
  it('removeRelay removes a registered relay and its published key, and says when there is none', async () => {
    const relayId = '0f5a3a52-2b7e-4c55-9d8e-3c1f7b0a9e11';
    const publicKey = generateRelayKeyPair().public;
    const fork = em();
    fork.create(Relay, { relayId, publicKey });
    await fork.flush();
    await container.relayKeys.publish(relayId, publicKey);
    expect(await removeRelay(container, relayId)).toBe(true);
    expect(await container.redis.hget(container.layout.relayPublicKeys, relayId)).toBeNull();
    expect(await removeRelay(container, relayId)).toBe(false);
  });
});
