import { Organization, Project, ProjectKey } from '../../db/entities';
import type { ConfigChange } from '../../queues/invalidate.queue';
import { CliError } from '../cli-error';
import type { Command } from './command';

/** `configs invalidate`: recompute the cached configs of an organization, a project or a key. */
export const invalidateCommands: Record<string, Command> = {
  'configs invalidate': {
    summary: 'recompute the cached configs of an organization, a project or one key',
    usage: 'configs invalidate --org SLUG | --project ORG/SLUG | --key PUBLIC_KEY',
    options: { org: { type: 'string' }, project: { type: 'string' }, key: { type: 'string' } },
    async run(ctx) {
      const given = (['org', 'project', 'key'] as const).filter((name) => ctx.values[name] !== undefined);
      if (given.length !== 1) throw new CliError('give exactly one of --org SLUG, --project ORG/SLUG, --key PUBLIC_KEY');
      const value = String(ctx.values[given[0]!]).trim();
      const container = await ctx.container();
      const em = container.orm.em.fork();
      let change: ConfigChange;
      if (given[0] === 'org') {
        const organization = await em.findOne(Organization, { slug: value });
        if (!organization) throw new CliError(`Organization \`${value}\` does not exist`);
        change = { scope: { scope: 'organization', organizationId: organization.id }, trigger: 'cli' };
      } else if (given[0] === 'project') {
        const [orgSlug, projectSlug, ...rest] = value.split('/');
        if (!orgSlug || !projectSlug || rest.length > 0) throw new CliError('--project takes ORG/SLUG, e.g. acme/web');
        const project = await em.findOne(Project, { slug: projectSlug, organization: { slug: orgSlug } });
        if (!project) throw new CliError(`Project \`${value}\` does not exist`);
        change = { scope: { scope: 'project', organizationId: project.organization.id, projectId: project.id }, trigger: 'cli' };
      } else {
        const key = /^[0-9a-f]{32}$/.test(value) ? await em.findOne(ProjectKey, { publicKey: value }, { populate: ['project'] }) : null;
        if (!key) throw new CliError(`Key \`${value}\` does not exist`);
        change = { scope: { scope: 'key', organizationId: key.project.organization.id, projectId: key.project.id, publicKey: key.publicKey }, trigger: 'cli' };
      }
      const enqueued = await container.invalidations.schedule([change]);
      ctx.out(`${enqueued} invalidation job(s) enqueued${enqueued === 0 ? ' (one covering this scope is already pending)' : ''}`);
    },
  },
};
