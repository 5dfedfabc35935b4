import { computeOptionsOf, computeProjectConfigs } from '../../db/compute-configs';
import { CliError } from '../cli-error';
import { json } from './args';
import type { Command } from './command';

const PUBLIC_KEY_RE = /^[0-9a-f]{32}$/;

export const configCommands: Record<string, Command> = {
  'configs show': {
    summary: 'print the config computed now from the database for a public key',
    usage: 'configs show PUBLIC_KEY',
    async run(ctx) {
      const [publicKey] = ctx.positionals;
      if (!publicKey || !PUBLIC_KEY_RE.test(publicKey)) throw new CliError('give a public key: 32 lower-case hex characters');
      const container = await ctx.container();
      // The same computation a build job runs, so a key that cannot be built says why here too.
      const { configs, failures } = await computeProjectConfigs(container.orm.em.fork(), [publicKey], computeOptionsOf(ctx.settings));
      const failure = failures[0];
      if (failure) throw new CliError(`the config of ${publicKey} cannot be computed (${failure.reason}): ${failure.message}`);
      ctx.out(json(configs[0]!.config));
    },
  },
};
