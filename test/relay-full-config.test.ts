import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed, type SeedResult } from '../src/db/seed';
import { MAX_RESPONSE_BYTES } from '../src/services/project-configs';
import { createOrgWithProject, eventually, startApi, userWithToken, type ApiClient } from './support/admin';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { waitForQueuesToSettle, withoutVolatile } from './support/settle';

/**
 * Issue 10's "Done when", through the signed test Relay: v2 and v3 agree, 500 realistic full
 * configs fit one v3 response, and a feature turned off for one organization or one project changes
 * exactly those configs as a polling Relay sees them.
 */

let server: TestServer;
let relay: TestRelay;
let api: ApiClient;
let seeded: SeedResult;

beforeAll(async () => {
  server = await startTestServer({ INVALIDATION_DELAY_MS: '0' });
  relay = await server.internalRelay();
  const { token } = await userWithToken(server.container);
  api = await startApi(server.container, token);
  // Realistic options on every organization and project (seed.ts), not bare projects: 5 × 20 × 5 keys.
  seeded = await seed(server.container.orm.em.fork(), { orgs: 5, projects: 20, keys: 5, slugPrefix: 'full' });
}, 120_000);

afterAll(async () => {
  await api.close();
  await server.close();
});

type Config = { rev: string; config: { features: string[] } } & Record<string, unknown>;

describe('v2 and v3', () => {
  it('return the same config for the same keys (timestamps and rev aside), full and restricted', async () => {
    const keys = [...seeded.organizations.flatMap((o) => [o.projects[0].publicKeys[0], o.projects[1].publicKeys[2]]), 'f'.repeat(32)];
    for (const fullConfig of [true, false]) {
      const v2 = await relay.projectConfigs({ publicKeys: keys, fullConfig }, '2');
      expect(v2.status).toBe(200);
      await relay.pollConfigs(keys);
      const v3 = await relay.projectConfigs({ publicKeys: keys, fullConfig }, '3');
      expect(v3.status).toBe(200);
      expect(v3.body.pending ?? []).toEqual([]);
      for (const key of keys) {
        const a = v2.body.configs?.[key];
        const b = v3.body.configs?.[key];
        expect(a, key).toBeDefined();
        expect(withoutVolatile(b)).toEqual(withoutVolatile(a));
      }
      // The seeded options are there (not a bare config), and the unknown key is disabled in both.
      expect((v3.body.configs?.[keys[0]] as Config).config).toHaveProperty('piiConfig');
      expect(v2.body.configs?.['f'.repeat(32)]).toEqual({ disabled: true });
    }
  }, 60_000);
});

describe("Relay's 20 MiB cap", () => {
  it('500 keys of realistic full configs come in one v3 response under the cap', async () => {
    expect(seeded.publicKeys).toHaveLength(500);
    await relay.pollConfigs(seeded.publicKeys, { timeoutMs: 60_000 });
    const response = await relay.projectConfigs({ publicKeys: seeded.publicKeys, fullConfig: true }, '3');
    expect(response.status).toBe(200);
    expect(response.body.pending ?? []).toEqual([]);
    expect(Object.keys(response.body.configs ?? {})).toHaveLength(500);
    const bytes = Buffer.byteLength(response.text);
    expect(bytes).toBeLessThan(MAX_RESPONSE_BYTES);
    expect(bytes).toBeLessThan(20 * 1024 * 1024);
    process.stdout.write(`500 realistic full configs: ${bytes} bytes in one v3 response (${Math.round(bytes / 500)} per config)\n`);
    // Full configs, each with the sections a processing Relay needs.
    const sample = response.body.configs![seeded.publicKeys[0]] as Config;
    expect(Object.keys(sample.config)).toEqual(expect.arrayContaining(['features', 'filterSettings', 'piiConfig', 'sampling', 'transactionMetrics', 'quotas']));
  }, 120_000);
});

describe('a feature turned off for one organization or one project', () => {
  it('changes exactly those configs, as a polling Relay sees them after commit', async () => {
    const { token } = await userWithToken(server.container);
    const a = await createOrgWithProject(api, token, 'poll-a');
    const second = await api.post('/api/0/teams/poll-a/backend/projects/', { name: 'Api', slug: 'api' }, token);
    expect(second.status).toBe(201);
    const aApiKey = (await api.get('/api/0/projects/poll-a/api/keys/', token)).body[0].id as string;
    const b = await createOrgWithProject(api, token, 'poll-b');
    const keys = { aWeb: a.key.id as string, aApi: aApiKey, bWeb: b.key.id as string };
    const all = Object.values(keys);

    const poll = async () => {
      const { configs } = await relay.pollConfigs(all);
      return Object.fromEntries(Object.entries(keys).map(([name, key]) => [name, configs.get(key) as Config])) as Record<keyof typeof keys, Config>;
    };
    const before = await poll();
    for (const config of Object.values(before)) expect(config.config.features).toEqual(expect.arrayContaining(['organizations:profiling', 'organizations:session-replay']));

    // One project: only its config changes.
    const projectPut = await api.put('/api/0/projects/poll-a/api/', { featureOverrides: { 'organizations:profiling': false } }, token);
    expect(projectPut.status).toBe(200);
    let afterProject = before;
    await eventually(async () => {
      afterProject = await poll();
      return !afterProject.aApi.config.features.includes('organizations:profiling');
    });
    await waitForQueuesToSettle(server.container);
    const settled = await poll();
    expect(settled.aApi.rev).toBe(afterProject.aApi.rev);
    expect(settled.aWeb).toEqual(before.aWeb);
    expect(settled.bWeb).toEqual(before.bWeb);
    expect(settled.aApi.config.features).toEqual(before.aApi.config.features.filter((f) => f !== 'organizations:profiling'));

    // One organization: both of its projects change, the other organization's does not.
    const orgPut = await api.put('/api/0/organizations/poll-a/', { featureOverrides: { 'organizations:session-replay': false } }, token);
    expect(orgPut.status).toBe(200);
    await eventually(async () => {
      const now = await poll();
      return !now.aWeb.config.features.includes('organizations:session-replay') && !now.aApi.config.features.includes('organizations:session-replay');
    });
    await waitForQueuesToSettle(server.container);
    const final = await poll();
    expect(final.bWeb).toEqual(before.bWeb);
    expect(final.aWeb.rev).not.toBe(before.aWeb.rev);
    expect(final.aWeb.config.features).toEqual(before.aWeb.config.features.filter((f) => f !== 'organizations:session-replay'));
    // The project's own override still holds under the organization's.
    expect(final.aApi.config.features).not.toContain('organizations:profiling');
  }, 60_000);
});
