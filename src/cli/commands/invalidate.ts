import { invalidateScope, recomputeAllConfigs, type InvalidationTarget } from '../../services/configs';
import { CliError } from '../cli-error';
import type { Command } from './command';

/** `configs invalidate`: recompute the cached configs of an organization, a project, a key or all of them. */
export const invalidateCommands: Record<string, Command> = {
  'configs invalidate': {
    summary: 'recompute the cached configs of an organization, a project, one key, or (--all) every cached config in place',
    usage: 'configs invalidate --org SLUG | --project ORG/SLUG | --key PUBLIC_KEY | --all',
    options: { org: { type: 'string' }, project: { type: 'string' }, key: { type: 'string' }, all: { type: 'boolean' } },
    async run(ctx) {
      const given = (['org', 'project', 'key', 'all'] as const).filter((name) => ctx.values[name] !== undefined && ctx.values[name] !== false);
      if (given.length !== 1) throw new CliError('give exactly one of --org SLUG, --project ORG/SLUG, --key PUBLIC_KEY, --all');
      const option = given[0];
      if (option === 'all') {
        const jobId = await recomputeAllConfigs(await ctx.container());
        ctx.out(`recomputation of every cached config enqueued (job ${jobId}): configs are rewritten in place after builds, none is deleted`);
        return;
      }
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
