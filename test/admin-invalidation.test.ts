import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed, type SeedResult } from '../src/db/seed';
import { generateRelayKeyPair } from '../src/relay-auth/keys';
import { userWithToken } from './support/admin';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';

describe('a trusted-relay PUT, as a Relay sees it', () => {
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 2, projects: 5, keys: 2 });
    ({ token } = await userWithToken(server.container, { superuser: true }));
  });
  afterAll(async () => {
    await server.close();
  });

  it('gives every cached key of the organization the new list; uncached keys stay uncached', async () => {
    const [org, other] = seeded.organizations as [SeedResult['organizations'][number], SeedResult['organizations'][number]];
    const orgKeys = org.projects.flatMap((p) => p.publicKeys);
    const cached = orgKeys.filter((_, i) => i % 2 === 0);
    const uncached = orgKeys.filter((_, i) => i % 2 === 1);
    const otherKey = other.projects[0].publicKeys[0];
    await relay.pollConfigs([...cached, otherKey]);
    const otherBefore = (await relay.pollConfigs([otherKey])).configs.get(otherKey);

    const newKey = generateRelayKeyPair().public;
    const response = await fetch(new URL(`/api/0/organizations/${org.slug}/`, server.url), {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ trustedRelays: [{ publicKey: newKey, name: 'new edge relay', description: 'dc2' }] }),
    });
    expect(response.status).toBe(200);

    await expect
      .poll(
        async () => {
          const { configs } = await relay.pollConfigs(cached);
          return cached.every((k) => (configs.get(k) as { config: { trustedRelays: string[] } }).config.trustedRelays.join() === newKey);
        },
        { timeout: 30_000, interval: 100 },
      )
      .toBe(true);
    expect((await server.container.configCache.cachedKeys(uncached)).size).toBe(0);
    // The other organization's config was not recomputed.
    expect((await relay.pollConfigs([otherKey])).configs.get(otherKey)).toEqual(otherBefore);
  });
});
