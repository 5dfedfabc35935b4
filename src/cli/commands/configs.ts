import { showConfig } from '../../services/configs';
import { PUBLIC_KEY_RE } from '../../services/keys';
import { CliError } from '../cli-error';
import { json } from './args';
import type { Command } from './command';

export const configCommands: Record<string, Command> = {
  'configs show': {
    summary: 'print the config computed now from the database for a public key',
    usage: 'configs show PUBLIC_KEY',
    async run(ctx) {
      const [publicKey] = ctx.positionals;
      if (!publicKey || !PUBLIC_KEY_RE.test(publicKey)) throw new CliError('give a public key: 32 lower-case hex characters');
      // The computation the Relay endpoint and the build jobs run, so a key that cannot be built says why here too.
      const shown = await showConfig(await ctx.container(), publicKey);
      if ('failure' in shown) throw new CliError(`the config of ${publicKey} cannot be computed (${shown.failure.reason}): ${shown.failure.message}`);
      ctx.out(json(shown.config));
    },
  },
};
