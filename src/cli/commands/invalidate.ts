import { invalidateScope, type InvalidationTarget } from '../../services/configs';
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
      const option = given[0];
      const value = String(ctx.values[option]).trim();
      let target: InvalidationTarget;
      if (option === 'org') target = { organization: value };
      else if (option === 'key') target = { publicKey: value };
      else {
        const [organization, project, ...rest] = value.split('/');
        if (!organization || !project || rest.length > 0) throw new CliError('--project takes ORG/SLUG, e.g. acme/web');
        target = { organization, project };
      }
      const enqueued = await invalidateScope(await ctx.container(), target);
      ctx.out(`${enqueued} invalidation job(s) enqueued${enqueued === 0 ? ' (one covering this scope is already pending)' : ''}`);
    },
  },
};
