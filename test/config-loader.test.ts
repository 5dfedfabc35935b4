import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configInputFor, loadConfigSources } from '../src/db/config-loader';
import type { Project } from '../src/db/entities';
import { countQueries } from '../src/db/query-counter';
import { seed, type SeedResult } from '../src/db/seed';
import type { Container } from '../src/container';
import { testContainer } from './support/harness';

let container: Container;
let seeded: SeedResult;

beforeAll(async () => {
  container = await testContainer();
  // 500 keys over 50 organizations and 250 projects, half of them using a template.
  seeded = await seed(container.orm.em.fork(), { orgs: 50, projects: 5, keys: 2 });
});

afterAll(async () => {
  await container.close();
});

describe('loadConfigSources', () => {
  it('uses the same number of SQL statements for 1 key and for 500 keys over many projects and organizations', async () => {
    expect(seeded.publicKeys).toHaveLength(500);
    const one = await countQueries(() => loadConfigSources(container.orm.em.fork(), { publicKeys: seeded.publicKeys.slice(0, 1) }));
    const all = await countQueries(() => loadConfigSources(container.orm.em.fork(), { publicKeys: seeded.publicKeys }));
    expect(one.result.keys.size).toBe(1);
    expect(all.result.keys.size).toBe(500);
    expect(one.queries).toBeGreaterThan(0);
    expect(all.queries).toBe(one.queries);
    expect(all.queries).toBe(4);
  });

  it('shares one organization and one project object between the keys that point at them (identity map)', async () => {
    const sources = await loadConfigSources(container.orm.em.fork(), { publicKeys: seeded.publicKeys });
    const [first, second] = seeded.organizations[0].projects[0].publicKeys;
    const a = sources.keys.get(first)!;
    const b = sources.keys.get(second)!;
    expect(a.project).toBe(b.project);
    const otherProjectKey = sources.keys.get(seeded.organizations[0].projects[1].publicKeys[0])!;
    expect((otherProjectKey.project as Project).organization).toBe((a.project as Project).organization);
    const organizations = new Set([...sources.keys.values()].map((k) => (k.project as Project).organization));
    expect(organizations.size).toBe(50);
  });

  it('loads a whole project or organization with the same statement count', async () => {
    const org = seeded.organizations[1];
    const byProject = await countQueries(() => loadConfigSources(container.orm.em.fork(), { projectIds: org.projects.map((p) => p.id) }));
    const byOrg = await countQueries(() => loadConfigSources(container.orm.em.fork(), { organizationIds: [org.id] }));
    expect(byProject.result.keys.size).toBe(10);
    expect(byOrg.result.keys.size).toBe(10);
    expect(byProject.queries).toBe(4);
    expect(byOrg.queries).toBe(4);
  });

  it('gives the builder the organization, project and template options of each key', async () => {
    const org = seeded.organizations[2];
    const withTemplate = org.projects[0].publicKeys[0]; // even projects use the seeded template
    const withoutTemplate = org.projects[1].publicKeys[0];
    const sources = await loadConfigSources(container.orm.em.fork(), { publicKeys: [withTemplate, withoutTemplate, 'f'.repeat(32)] });
    const input = configInputFor(sources, withTemplate);
    expect(input.organizationOptions.get('sentry:event_retention')).toBe(90);
    expect(input.projectOptions.get('filters:localhost')).toBe('1');
    expect(input.templateOptions?.get('filters:browser-extensions')).toBe('1');
    expect(configInputFor(sources, withoutTemplate).templateOptions).toBeNull();
    const unknown = configInputFor(sources, 'f'.repeat(32));
    expect(unknown.key).toBeNull();
  });
});
