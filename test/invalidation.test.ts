import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Organization, Project, ProjectKey, ProjectTemplate } from '../src/db/entities';
import { setOption } from '../src/db/option-store';
import { seed, type SeedResult } from '../src/db/seed';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { waitForQueuesToSettle } from './support/settle';
import { describeBuildRace } from './support/race';
import { storedConfigs } from './support/stored-configs';

describe('invalidation after commit', () => {
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;
  const scheduled = async () => (await server.container.metrics.invalidationsScheduled.get()).values.reduce((sum, v) => sum + v.value, 0);
  const cachedConfig = async (publicKey: string) => {
    const text = (await storedConfigs(server.container, [publicKey])).get(publicKey);
    return text === undefined ? undefined : (JSON.parse(text) as { rev?: string; disabled: boolean; config?: Record<string, unknown> });
  };

  beforeAll(async () => {
    server = await startTestServer({ INVALIDATION_DELAY_MS: '50' });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 3, projects: 2, keys: 2 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('recomputes the cached configs of the changed organization only; uncached keys stay uncached', async () => {
    const [org, other] = seeded.organizations as [SeedResult['organizations'][number], SeedResult['organizations'][number]];
    const cached = [org.projects[0].publicKeys[0], org.projects[1].publicKeys[0]];
    const uncached = org.projects[0].publicKeys[1];
    const otherKey = other.projects[0].publicKeys[0];
    await relay.pollConfigs([...cached, otherKey]);
    const otherRev = (await cachedConfig(otherKey))!.rev;

    await server.container.orm.em.fork().transactional(async (em) => {
      await setOption(em, { scope: 'organization', entity: await em.findOneOrFail(Organization, org.id) }, 'sentry:safe_fields', ['changed']);
    });
    await waitForQueuesToSettle(server.container);
    for (const key of cached) expect((await cachedConfig(key))!.config!.datascrubbingSettings).toMatchObject({ excludeFields: ['changed', 'traceId'] });
    expect(await cachedConfig(uncached)).toBeUndefined();
    expect((await cachedConfig(otherKey))!.rev).toBe(otherRev);
  });

  it('schedules nothing and changes no cached config when the transaction rolls back', async () => {
    const org = seeded.organizations[1];
    const key = org.projects[0].publicKeys[0];
    await relay.pollConfigs([key]);
    const before = await cachedConfig(key);
    const count = await scheduled();
    await expect(
      server.container.orm.em.fork().transactional(async (em) => {
        await setOption(em, { scope: 'organization', entity: await em.findOneOrFail(Organization, org.id) }, 'sentry:safe_fields', ['rolled-back']);
        await em.flush();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await new Promise((r) => setTimeout(r, 300));
    expect(await scheduled()).toBe(count);
    expect(await cachedConfig(key)).toEqual(before);
  });

  it('schedules nothing when an option is written with its current value', async () => {
    const org = seeded.organizations[2];
    const count = await scheduled();
    const written = await server.container.orm.em.fork().transactional(async (em) =>
      setOption(em, { scope: 'organization', entity: await em.findOneOrFail(Organization, org.id) }, 'sentry:event_retention', 90),
    );
    expect(written).toBe(false);
    expect(await scheduled()).toBe(count);
  });

  it('schedules nothing for changes that no config shows (project name, platform)', async () => {
    const count = await scheduled();
    const em = server.container.orm.em.fork();
    const project = await em.findOneOrFail(Project, seeded.organizations[2].projects[0].id);
    project.name = 'Renamed';
    project.platform = 'python';
    await em.flush();
    expect(await scheduled()).toBe(count);
  });

  it('takes a deleted key out of use at once, before the coalescing delay', async () => {
    const key = seeded.organizations[2].projects[1].publicKeys[1];
    await relay.pollConfigs([key]);
    const em = server.container.orm.em.fork();
    em.remove(await em.findOneOrFail(ProjectKey, { publicKey: key }));
    await em.flush();
    expect(await cachedConfig(key)).toEqual({ disabled: true });
  });

  it('recomputes the projects that use a template when a template option changes', async () => {
    const org = seeded.organizations[2];
    const withTemplate = org.projects[0].publicKeys[0]; // even projects use the seeded template
    await relay.pollConfigs([withTemplate]);
    expect((await cachedConfig(withTemplate))!.config!.filterSettings).toHaveProperty('browserExtensions');
    await server.container.orm.em.fork().transactional(async (em) => {
      const template = await em.findOneOrFail(ProjectTemplate, { organization: org.id });
      await setOption(em, { scope: 'template', entity: template }, 'filters:browser-extensions', '0');
    });
    await waitForQueuesToSettle(server.container);
    expect((await cachedConfig(withTemplate))!.config!.filterSettings).not.toHaveProperty('browserExtensions');
  });

  it('schedules once for the outermost commit of nested transactions, and not at all when the outer one rolls back', async () => {
    const org = seeded.organizations[0];
    const count = await scheduled();
    await expect(
      server.container.orm.em.fork().transactional(async (outer) => {
        await outer.transactional(async (inner) => {
          await setOption(inner, { scope: 'organization', entity: await inner.findOneOrFail(Organization, org.id) }, 'sentry:sensitive_fields', ['nested']);
        });
        throw new Error('outer abort');
      }),
    ).rejects.toThrow('outer abort');
    await new Promise((r) => setTimeout(r, 200));
    expect(await scheduled()).toBe(count);
    await server.container.orm.em.fork().transactional(async (outer) => {
      await outer.transactional(async (inner) => {
        await setOption(inner, { scope: 'organization', entity: await inner.findOneOrFail(Organization, org.id) }, 'sentry:sensitive_fields', ['nested']);
      });
    });
    await expect.poll(scheduled, { timeout: 5000 }).toBe(count + 1);
  });
});

describeBuildRace('builds racing changes (randomised, seeded)');
