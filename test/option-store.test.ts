import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { Organization, OrganizationOption, Project, ProjectOption, ProjectTemplate, Team } from '../src/db/entities';
import { deleteOption, getOrganizationOption, getProjectOption, setOption } from '../src/db/option-store';
import { OptionValidationError, OPTION_DEFINITIONS, validateOption } from '../src/options/registry';
import { testContainer } from './support/harness';

let container: Container;
let orgId: number;
let projectId: number;
let templateId: number;

beforeAll(async () => {
  container = await testContainer();
  const em = container.orm.em.fork();
  const org = em.create(Organization, { slug: 'opts', name: 'Options' });
  const team = em.create(Team, { organization: org, slug: 't', name: 'T' });
  const template = em.create(ProjectTemplate, { organization: org, name: 'tpl' });
  const project = em.create(Project, { organization: org, team, template, slug: 'p', name: 'P' });
  await em.flush();
  orgId = org.id;
  projectId = project.id;
  templateId = template.id;
});

afterAll(async () => {
  await container.close();
});

const load = async () => {
  const em = container.orm.em.fork();
  return {
    em,
    org: await em.findOneOrFail(Organization, orgId),
    project: await em.findOneOrFail(Project, projectId, { populate: ['template'] }),
    template: await em.findOneOrFail(ProjectTemplate, templateId),
  };
};

describe('option store', () => {
  it('falls back from the project to its template to the registered default', async () => {
    const { em, project, template } = await load();
    expect(await getProjectOption(em, project, 'filters:localhost')).toBe('0');
    await setOption(em, { scope: 'template', entity: template }, 'filters:localhost', '1');
    await em.flush();
    expect(await getProjectOption(em, project, 'filters:localhost')).toBe('1');
    await setOption(em, { scope: 'project', entity: project }, 'filters:localhost', '0');
    await em.flush();
    expect(await getProjectOption(em, project, 'filters:localhost')).toBe('0');
    await deleteOption(em, { scope: 'project', entity: project }, 'filters:localhost');
    await em.flush();
    expect(await getProjectOption(em, project, 'filters:localhost')).toBe('1');
  });

  it('writes nothing when the stored value is unchanged', async () => {
    const { em, org } = await load();
    expect(await setOption(em, { scope: 'organization', entity: org }, 'sentry:safe_fields', ['a', 'b'])).toBe(true);
    await em.flush();
    const before = await em.fork().findOneOrFail(OrganizationOption, { organization: orgId, key: 'sentry:safe_fields' });
    const again = await load();
    expect(await setOption(again.em, { scope: 'organization', entity: again.org }, 'sentry:safe_fields', ['a', 'b'])).toBe(false);
    again.em.getUnitOfWork().computeChangeSets();
    expect(again.em.getUnitOfWork().getChangeSets(), 'nothing to flush').toHaveLength(0);
    await again.em.flush();
    const after = await em.fork().findOneOrFail(OrganizationOption, { organization: orgId, key: 'sentry:safe_fields' });
    expect(after.updatedAt.getTime()).toBe(before.updatedAt.getTime());
    expect(await getOrganizationOption(em.fork(), org, 'sentry:safe_fields')).toEqual(['a', 'b']);
  });

  it('rejects unknown keys, keys of the other scope and invalid values with a clear message', async () => {
    const { em, org, project } = await load();
    await expect(setOption(em, { scope: 'organization', entity: org }, 'sentry:nope', 1)).rejects.toThrow('Unknown option "sentry:nope"');
    await expect(setOption(em, { scope: 'project', entity: project }, 'sentry:trusted-relays', [])).rejects.toThrow('cannot be set on a project');
    await expect(setOption(em, { scope: 'project', entity: project }, 'sentry:scrub_data', 'yes')).rejects.toBeInstanceOf(OptionValidationError);
    await expect(setOption(em, { scope: 'organization', entity: org }, 'sentry:relay_pii_config', '{"applications":{"$string":["missing"]}}')).rejects.toThrow(
      'applies the undefined rule "missing"',
    );
    expect(await em.fork().count(ProjectOption, { project: projectId, key: 'sentry:scrub_data' })).toBe(0);
  });

  it('has a schema that accepts the registered default of every known key', () => {
    for (const definition of OPTION_DEFINITIONS) {
      for (const scope of definition.scopes) expect(() => validateOption(scope, definition.key, definition.default), definition.key).not.toThrow();
    }
  });
});
