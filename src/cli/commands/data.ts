import { applyMigrations } from '../../db/orm';
import { seed } from '../../db/seed';
import { integerOption, json } from './args';
import type { Command } from './command';

export const dataCommands: Record<string, Command> = {
  migrate: {
    summary: 'apply pending database migrations (safe to run from several replicas at once)',
    async run(ctx) {
      const applied = await applyMigrations((await ctx.container()).orm);
      ctx.out(applied.length > 0 ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'no pending migrations');
    },
  },
  seed: {
    summary: 'create demo organizations, projects and keys with realistic options; prints JSON of what it created',
    usage: 'seed --orgs N --projects M --keys K [--bare]',
    options: { orgs: { type: 'string' }, projects: { type: 'string' }, keys: { type: 'string' }, bare: { type: 'boolean' } },
    async run(ctx) {
      const request = {
        orgs: integerOption(ctx, 'orgs', 1, 1, 10_000),
        projects: integerOption(ctx, 'projects', 1, 1, 10_000),
        keys: integerOption(ctx, 'keys', 1, 1, 100),
        bare: ctx.values.bare === true,
      };
      const container = await ctx.container();
      ctx.out(json(await seed(container.orm.em.fork(), request)));
    },
  },
};
