import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry, Organization, OrganizationMember, type User } from '../src/db/entities';
import { startWorkers, type RunningWorkers } from '../src/jobs/worker-runtime';
import { EMAIL_VERIFICATION_ACTOR, removeUnverifiedMembers } from '../src/services/organizations';
import { addMember, eventually, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

let container: Container;
let api: ApiClient;
let token: string;
let workers: RunningWorkers;

beforeAll(async () => {
  container = await testContainer();
  ({ token } = await userWithToken(container, { email: 'owner@verified.example', emailVerified: true }));
  api = await startApi(container, token);
  workers = startWorkers(container);
});

afterAll(async () => {
  await workers.close();
  await api.close();
  await container.close();
});

const em = () => container.orm.em.fork();

/** Jobs ever added to the clean-up queue, from its event stream (completed jobs leave no other trace). */
async function jobsAdded(): Promise<number> {
  const queue = container.queues['email-verification'];
  const events = await container.redis.xrange(queue.keys.events, '-', '+');
  return events.filter(([, fields]) => fields[0] === 'event' && fields[1] === 'added').length;
}

async function memberEmails(slug: string): Promise<string[]> {
  const members = await em().find(OrganizationMember, { organization: { slug } }, { populate: ['user'] });
  return members.map((m) => (m.user as User).email).sort();
}

async function organizationWithMembers(slug: string): Promise<void> {
  expect((await api.post('/api/0/organizations/', { name: slug, slug })).status).toBe(201);
  for (const [email, verified] of [
    [`a-${slug}@unverified.example`, false],
    [`b-${slug}@unverified.example`, false],
    [`c-${slug}@verified.example`, true],
  ] as const) {
    const { user } = await userWithToken(container, { email, emailVerified: verified });
    await addMember(container, slug, user.id);
  }
}

describe('requireEmailVerification', () => {
  it('is stored, and a background job removes the members without a verified e-mail, one member.remove entry each', async () => {
    await organizationWithMembers('strict');
    const before = await jobsAdded();
    const res = await api.put('/api/0/organizations/strict/', { requireEmailVerification: true });
    expect(res.status).toBe(200);
    expect(await jobsAdded()).toBe(before + 1);
    expect(res.body.requireEmailVerification).toBe(true);
    expect((await em().findOneOrFail(Organization, { slug: 'strict' })).requireEmailVerification).toBe(true);

    await eventually(async () => (await memberEmails('strict')).length === 2);
    expect(await memberEmails('strict')).toEqual(['c-strict@verified.example', 'owner@verified.example']);

    const removals = await em().find(AuditLogEntry, { organization: { slug: 'strict' }, event: 'member.remove' }, { orderBy: { id: 'asc' } });
    expect(removals.map((r) => [r.data.email, r.actorLabel, r.actor])).toEqual([
      ['a-strict@unverified.example', EMAIL_VERIFICATION_ACTOR, null],
      ['b-strict@unverified.example', EMAIL_VERIFICATION_ACTOR, null],
    ]);
    expect(removals[0].data).toMatchObject({ role: 'member', reason: 'email not verified' });
    const [edit] = await em().find(AuditLogEntry, { organization: { slug: 'strict' }, event: 'org.edit' });
    expect(edit.data).toEqual({ requireEmailVerification: 'from false to true' });

    // The audit log endpoint shows the removals.
    const log = await api.get('/api/0/organizations/strict/audit-logs/?event=member.remove');
    expect(log.body.rows.map((r: { data: { email: string } }) => r.data.email).sort()).toEqual(['a-strict@unverified.example', 'b-strict@unverified.example']);
  });

  it('schedules nothing when the setting is turned off, and keeps unverified members', async () => {
    await organizationWithMembers('relaxed');
    const before = await jobsAdded();
    const res = await api.put('/api/0/organizations/relaxed/', { requireEmailVerification: false });
    expect(res.body.requireEmailVerification).toBe(false);
    expect(await jobsAdded()).toBe(before);
    expect(await memberEmails('relaxed')).toHaveLength(4);
  });
});

describe('removeUnverifiedMembers (the job body)', () => {
  it('removes nothing while the organization does not require verification, and nothing more on a second run', async () => {
    await organizationWithMembers('direct');
    const organization = await em().findOneOrFail(Organization, { slug: 'direct' });
    expect(await removeUnverifiedMembers(em(), organization.id)).toEqual([]);
    expect(await memberEmails('direct')).toHaveLength(4);

    await em().nativeUpdate(Organization, { id: organization.id }, { requireEmailVerification: true });
    const removed = await removeUnverifiedMembers(em(), organization.id);
    expect(removed.map((r) => r.email).sort()).toEqual(['a-direct@unverified.example', 'b-direct@unverified.example']);
    expect(await removeUnverifiedMembers(em(), organization.id)).toEqual([]);
    expect(await em().count(AuditLogEntry, { organization, event: 'member.remove' })).toBe(2);
    expect(await removeUnverifiedMembers(em(), 999_999)).toEqual([]);
  });
});
