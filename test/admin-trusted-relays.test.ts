import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { AuditLogEntry, OrganizationOption } from '../src/db/entities';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import { configOf, createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

let container: Container;
let api: ApiClient;
let publicKey: string;

const [k1, k2, k3] = [generateRelayKeyPair().public, generateRelayKeyPair().public, generateRelayKeyPair().public];

beforeAll(async () => {
  container = await testContainer();
  const { token } = await userWithToken(container);
  api = await startApi(container, token);
  ({ key: { id: publicKey } } = await createOrgWithProject(api, token, 'relays'));
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const put = (body: unknown, org = 'relays') => api.put(`/api/0/organizations/${org}/`, body);

async function storedRow(org = 'relays') {
  return container.orm.em.fork().findOne(OrganizationOption, { organization: { slug: org }, key: 'sentry:trusted-relays' });
}

async function editEntries(org = 'relays') {
  return container.orm.em.fork().find(AuditLogEntry, { organization: { slug: org }, event: 'org.edit' }, { orderBy: { id: 'asc' } });
}

/** The global change counter: every committed config change (each scheduled invalidation) bumps it. */
const changeCounter = () => container.configCache.generation();
const scheduledMetric = async () => (await container.metrics.invalidationsScheduled.get()).values.reduce((sum, v) => sum + v.value, 0);

describe('trusted relays validation', () => {
  const cases: [string, unknown, string][] = [
    ['an item that is not an object', [5], 'Bad structure received for Trusted Relays'],
    ['a list item that is a list', [[k1]], 'Bad structure received for Trusted Relays'],
    ['an item without name', [{ publicKey: k1 }], 'Relay key info with missing name in Trusted Relays'],
    ['an item with a null name', [{ publicKey: k1, name: null }], 'Relay key info with missing name in Trusted Relays'],
    ['a blank name', [{ publicKey: k1, name: '   ' }], 'Relay key info with empty name in Trusted Relays'],
    ['no public key', [{ name: ' edge ' }], "Missing public key for relay key info with name:'edge' in Trusted Relays"],
    ['an empty public key', [{ name: 'edge', publicKey: '' }], "Missing public key for relay key info with name:'edge' in Trusted Relays"],
    ['a key that is no relay public key', [{ name: 'edge', publicKey: 'not-a-key' }], "Invalid public key for relay key info with name:'edge' in Trusted Relays"],
    ['a key one character short', [{ name: 'edge', publicKey: k1.slice(1) }], "Invalid public key for relay key info with name:'edge' in Trusted Relays"],
    ['the same key twice', [{ name: 'a', publicKey: k1 }, { name: 'b', publicKey: k1 }], `Duplicated key in Trusted Relays: '${k1}'`],
  ];

  for (const [scenario, trustedRelays, message] of cases) {
    it(`rejects ${scenario} with 400 and the exact message`, async () => {
      const res = await put({ trustedRelays });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ trustedRelays: [message] });
    });
  }

  it('rejects a value that is not a list, and stores nothing for any rejected save', async () => {
    const res = await put({ trustedRelays: { publicKey: k1, name: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.trustedRelays).toHaveLength(1);
    expect(await storedRow()).toBeNull();
    expect(await editEntries()).toHaveLength(0);
  });

  it('rejects the whole save when another field is invalid too (nothing is half-applied)', async () => {
    const res = await put({ trustedRelays: [{ name: 'ok', publicKey: k1 }], dataScrubber: 'yes' });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body)).toEqual(['dataScrubber']);
    expect(await storedRow()).toBeNull();
  });
});

describe('saving trusted relays', () => {
  it('keeps created, moves lastModified only for new or edited entries, audits and invalidates each real change, and ignores an unchanged re-PUT', async () => {
    const counter0 = await changeCounter();
    const metric0 = await scheduledMetric();

    // First save: names are stored trimmed; created = lastModified = now.
    const before = new Date();
    const first = await put({ trustedRelays: [{ publicKey: k1, name: '  edge one ', description: 'dc 1' }, { publicKey: k2, name: 'edge two' }] });
    expect(first.status).toBe(200);
    const [a, b] = first.body.trustedRelays;
    expect(first.body.trustedRelays).toEqual([
      { publicKey: k1, name: 'edge one', description: 'dc 1', created: a.created, lastModified: a.created },
      { publicKey: k2, name: 'edge two', description: '', created: b.created, lastModified: b.created },
    ]);
    expect(a.created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(new Date(a.created).getTime()).toBeGreaterThanOrEqual(before.getTime() - 1);
    const row1 = (await storedRow())!;
    expect(row1.value).toEqual(first.body.trustedRelays);
    let edits = await editEntries();
    expect(edits).toHaveLength(1);
    expect(edits[0].data).toEqual({ trustedRelays: `to ${JSON.stringify(first.body.trustedRelays)}` });
    expect(await changeCounter()).toBeGreaterThan(counter0);
    expect(await scheduledMetric()).toBeGreaterThan(metric0);

    // Unchanged re-PUT (names differ only by surrounding blanks, order swapped): nothing at all.
    await sleep(5);
    const counter1 = await changeCounter();
    const metric1 = await scheduledMetric();
    const jobs1 = await container.queues.invalidate.count();
    const same = await put({ trustedRelays: [{ publicKey: k2, name: 'edge two ' }, { publicKey: k1, name: 'edge one', description: 'dc 1' }] });
    expect(same.status).toBe(200);
    expect(same.body.trustedRelays).toEqual(first.body.trustedRelays);
    const row2 = (await storedRow())!;
    expect(row2.updatedAt.getTime()).toBe(row1.updatedAt.getTime());
    expect(row2.value).toEqual(row1.value);
    expect(await editEntries()).toHaveLength(1);
    expect(await changeCounter()).toBe(counter1);
    expect(await scheduledMetric()).toBe(metric1);
    expect(await container.queues.invalidate.count()).toBe(jobs1);

    // Edit one description and add a key: the edited and the new entry move, the other keeps its times.
    await sleep(5);
    const counter2 = await changeCounter();
    const third = await put({
      trustedRelays: [
        { publicKey: k1, name: 'edge one', description: 'dc 1 (moved)' },
        { publicKey: k2, name: 'edge two' },
        { publicKey: k3, name: 'edge three' },
      ],
    });
    const [a3, b3, c3] = third.body.trustedRelays;
    expect(a3.created).toBe(a.created);
    expect(a3.lastModified > a.lastModified).toBe(true);
    expect(b3).toEqual(b);
    expect(c3.created).toBe(c3.lastModified);
    expect(c3.created > a.created).toBe(true);
    edits = await editEntries();
    expect(edits).toHaveLength(2);
    expect(edits[1].data).toEqual({ trustedRelays: `from ${JSON.stringify(first.body.trustedRelays)} to ${JSON.stringify(third.body.trustedRelays)}` });
    expect(await changeCounter()).toBeGreaterThan(counter2);

    // Removing an entry is a change (the length differs) even though no remaining entry changed.
    await sleep(5);
    const counter3 = await changeCounter();
    const fourth = await put({ trustedRelays: [{ publicKey: k1, name: 'edge one', description: 'dc 1 (moved)' }, { publicKey: k3, name: 'edge three' }] });
    expect(fourth.body.trustedRelays).toEqual([a3, c3]);
    expect(await editEntries()).toHaveLength(3);
    expect(await changeCounter()).toBeGreaterThan(counter3);

    // Renaming is a change of that entry only.
    await sleep(5);
    const fifth = await put({ trustedRelays: [{ publicKey: k1, name: 'edge uno', description: 'dc 1 (moved)' }, { publicKey: k3, name: 'edge three' }] });
    expect(fifth.body.trustedRelays[0].created).toBe(a.created);
    expect(fifth.body.trustedRelays[0].lastModified > a3.lastModified).toBe(true);
    expect(fifth.body.trustedRelays[1]).toEqual(c3);

    // Clearing the list is a change too.
    const cleared = await put({ trustedRelays: [] });
    expect(cleared.body.trustedRelays).toEqual([]);
    expect((await storedRow())!.value).toEqual([]);
    expect(await editEntries()).toHaveLength(5);
    expect((await configOf(container, publicKey)).config.trustedRelays).toEqual([]);
  });

  it('records the other settings changed by the same PUT in the one org.edit entry', async () => {
    const { token } = await userWithToken(container);
    await createOrgWithProject(api, token, 'combo');
    const res = await api.put('/api/0/organizations/combo/', { trustedRelays: [{ publicKey: k1, name: 'edge' }], dataScrubber: true, name: 'Combo Inc' }, token);
    expect(res.status).toBe(200);
    const edits = await editEntries('combo');
    expect(edits).toHaveLength(1);
    expect(edits[0].data).toEqual({
      name: 'from Org combo to Combo Inc',
      dataScrubber: 'to true',
      trustedRelays: `to ${JSON.stringify(res.body.trustedRelays)}`,
    });
    expect(edits[0].ipAddress).toBe('127.0.0.1');

    // Re-sending all of it changes nothing and records nothing.
    const again = await api.put('/api/0/organizations/combo/', { trustedRelays: [{ publicKey: k1, name: 'edge' }], dataScrubber: true, name: 'Combo Inc' }, token);
    expect(again.body).toEqual(res.body);
    expect(await editEntries('combo')).toHaveLength(1);

    // A later change says "from … to …"; an unchanged trusted-relay list is not mentioned.
    await api.put('/api/0/organizations/combo/', { trustedRelays: [{ publicKey: k1, name: 'edge' }], dataScrubber: false }, token);
    const later = await editEntries('combo');
    expect(later).toHaveLength(2);
    expect(later[1].data).toEqual({ dataScrubber: 'from true to false' });
  });

  it('puts the trusted relays into the configs of the organization keys, in stored order', async () => {
    const { token } = await userWithToken(container);
    const { key } = await createOrgWithProject(api, token, 'cfg');
    expect((await configOf(container, key.id)).config.trustedRelays).toEqual([]);
    await api.put('/api/0/organizations/cfg/', { trustedRelays: [{ publicKey: k2, name: 'edge' }, { publicKey: k1, name: 'other' }] }, token);
    expect((await configOf(container, key.id)).config.trustedRelays).toEqual([k2, k1]);
  });
});
