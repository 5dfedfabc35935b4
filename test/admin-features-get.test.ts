import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container } from '../src/container';
import { createOrgWithProject, startApi, userWithToken, type ApiClient } from './support/admin';
import { testContainer } from './support/harness';

/**
 * GET of an organization and of a project returns the effective `features` list (the server's
 * DEFAULT_FEATURES, then the organization's overrides, then the project's), sorted, beside the
 * `featureOverrides` that shape it (ADMIN_API.md).
 */

// Not the built-in default: the list must come from the server's settings.
const DEFAULTS = ['projects:rate-limits', 'organizations:profiling', 'organizations:session-replay'];

let container: Container;
let api: ApiClient;

beforeAll(async () => {
  container = await testContainer({ DEFAULT_FEATURES: DEFAULTS.join(',') });
  const { token } = await userWithToken(container);
  api = await startApi(container, token);
  await createOrgWithProject(api, token, 'feat-get');
});

afterAll(async () => {
  await api.close();
  await container.close();
});

const organization = async () => (await api.get('/api/0/organizations/feat-get/')).body;
const project = async () => (await api.get('/api/0/projects/feat-get/web/')).body;

describe('features in GET', () => {
  it("shows the server's DEFAULT_FEATURES, sorted, when nothing is overridden", async () => {
    expect(await organization()).toMatchObject({ features: [...DEFAULTS].sort(), featureOverrides: {} });
    expect(await project()).toMatchObject({ features: [...DEFAULTS].sort(), featureOverrides: {} });
  });

  it("follows the organization's overrides, and the project's over them; each PUT answers with the new list", async () => {
    const orgPut = await api.put('/api/0/organizations/feat-get/', {
      featureOverrides: { 'organizations:profiling': false, 'organizations:ourlogs-ingestion': true },
    });
    expect(orgPut.status).toBe(200);
    const afterOrg = ['organizations:ourlogs-ingestion', 'organizations:session-replay', 'projects:rate-limits'];
    expect(orgPut.body.features).toEqual(afterOrg);
    expect(await organization()).toMatchObject({ features: afterOrg, featureOverrides: { 'organizations:profiling': false, 'organizations:ourlogs-ingestion': true } });
    expect((await project()).features).toEqual(afterOrg);

    const projectPut = await api.put('/api/0/projects/feat-get/web/', { featureOverrides: { 'organizations:profiling': true, 'projects:rate-limits': false } });
    expect(projectPut.status).toBe(200);
    const afterProject = ['organizations:ourlogs-ingestion', 'organizations:profiling', 'organizations:session-replay'];
    expect(projectPut.body.features).toEqual(afterProject);
    expect(await project()).toMatchObject({ features: afterProject, featureOverrides: { 'organizations:profiling': true, 'projects:rate-limits': false } });
    // The project's overrides are its own: the organization's list is unchanged.
    expect((await organization()).features).toEqual(afterOrg);

    // Removing the project's overrides falls back to the organization's.
    await api.put('/api/0/projects/feat-get/web/', { featureOverrides: { 'organizations:profiling': null, 'projects:rate-limits': null } });
    expect(await project()).toMatchObject({ features: afterOrg, featureOverrides: {} });
  });
});
