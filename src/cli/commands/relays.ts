import { UUID_RE } from '../../formats';
import { listRelays, removeRelay } from '../../services/relays';
import { CliError } from '../cli-error';
import { json } from './args';
import type { Command } from './command';

/** Registered relays: list them, or remove one so it must register again. */
export const relayCommands: Record<string, Command> = {
  'relays list': {
    summary: 'list registered relays with their public keys and versions, as JSON',
    async run(ctx) {
      const relays = await listRelays(await ctx.container());
      ctx.out(json(relays.map((r) => ({ ...r, firstSeen: r.firstSeen.toISOString(), lastSeen: r.lastSeen.toISOString() }))));
    },
  },
  'relays remove': {
    summary: 'remove a registered relay (its key leaves the request-path cache at once)',
    usage: 'relays remove RELAY_ID',
    async run(ctx) {
      const [relayId] = ctx.positionals;
      if (!relayId || !UUID_RE.test(relayId)) throw new CliError('give the relay id: a lower-case UUID');
      if (!(await removeRelay(await ctx.container(), relayId))) throw new CliError(`Relay \`${relayId}\` is not registered`);
      ctx.out(`Removed relay \`${relayId}\``);
    },
  },
};
