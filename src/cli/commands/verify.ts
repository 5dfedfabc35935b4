import { VerifyScopeNotFound, verifyCachedConfigs, type VerifyScope } from '../../services/config-drift';
import { CliError } from '../cli-error';
import type { Command } from './command';

/** `configs verify`: is every cached config of a scope what a build would write now? */
export const verifyCommands: Record<string, Command> = {
  'configs verify': {
    summary: 'compare the cached configs of a scope with a fresh computation; exit 1 on any drift',
    usage: 'configs verify --org SLUG | --project ORG/SLUG | --all',
    options: { org: { type: 'string' }, project: { type: 'string' }, all: { type: 'boolean' } },
    async run(ctx) {
      const given = (['org', 'project', 'all'] as const).filter((name) => ctx.values[name] !== undefined && ctx.values[name] !== false);
      if (given.length !== 1) throw new CliError('give exactly one of --org SLUG, --project ORG/SLUG, --all');
      let scope: VerifyScope;
      if (given[0] === 'all') scope = { all: true };
      else if (given[0] === 'org') scope = { organizationSlug: String(ctx.values.org).trim() };
      else {
        const [organizationSlug, projectSlug, ...rest] = String(ctx.values.project).trim().split('/');
        if (!organizationSlug || !projectSlug || rest.length > 0) throw new CliError('--project takes ORG/SLUG, e.g. acme/web');
        scope = { organizationSlug, projectSlug };
      }
      const report = await verifyCachedConfigs(await ctx.container(), scope).catch((error: unknown) => {
        throw error instanceof VerifyScopeNotFound ? new CliError(error.message) : error;
      });
      for (const drift of report.drift) {
        for (const d of drift.differences) ctx.out(`${drift.publicKey} ${d.path}: cached ${JSON.stringify(d.cached)}, now ${JSON.stringify(d.fresh)}`);
      }
      ctx.out(`${report.cached} of ${report.keys} keys cached; ${report.drift.length} differ`);
      if (report.drift.length > 0) throw new CliError(`${report.drift.length} cached config(s) differ from a fresh computation`);
    },
  },
};
