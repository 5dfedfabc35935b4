import { randomUUID } from 'node:crypto';
import { configInputFor, loadConfigSources } from '../../db/config-loader';
import { buildProjectConfig } from '../../relay-config/project-config';
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
      const sources = await loadConfigSources(container.orm.em.fork(), { publicKeys: [publicKey] });
      const config = buildProjectConfig(configInputFor(sources, publicKey), {
        now: new Date(),
        allowedOrigins: ctx.settings.allowedOrigins,
        newRev: () => randomUUID().replaceAll('-', ''),
      });
      ctx.out(json(config));
    },
  },
};
