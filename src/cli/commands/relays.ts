import { open, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { UUID_RE } from '../../formats';
import { generateRelayKeyPair, parseRelayPublicKey } from '../../relay-auth/keys';
import { trustRelayKey, untrustRelayKey } from '../../services/relay-trust';
import { relayOverview, removeRelay } from '../../services/relays';
import { CliError } from '../cli-error';
import { json } from './args';
import type { Command, CommandContext } from './command';

/** Registered relays and the operator's trusted keys. */

function publicKeyArgument(ctx: CommandContext): string {
  const [publicKey] = ctx.positionals;
  if (!publicKey || parseRelayPublicKey(publicKey) === null) throw new CliError('give a relay public key: 43 characters of unpadded base64url');
  return publicKey;
}

const nameOption = (ctx: CommandContext) => (typeof ctx.values.name === 'string' ? ctx.values.name : '');

/**
 * Writes Relay's own `credentials.json` (`secret_key`, `public_key`, `id`) readable by its owner
 * only; refuses an existing file, so a Relay's identity is never overwritten by accident.
 */
async function writeCredentials(path: string): Promise<{ relayId: string; publicKey: string }> {
  const pair = generateRelayKeyPair();
  const relayId = randomUUID();
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${path} exists: refusing to overwrite a Relay's credentials (remove it first)`);
    throw new CliError(`cannot create ${path}: ${(error as Error).message}`);
  }
  try {
    // The mode given to open is masked by the umask; this one is not.
    await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify({ secret_key: pair.secret, public_key: pair.public, id: relayId }, null, 2)}\n`);
  } finally {
    await handle.close();
  }
  return { relayId, publicKey: pair.public };
}

export const relayCommands: Record<string, Command> = {
  'relays list': {
    summary: 'list registered and static relays as JSON: keys, versions, what trusts them, last config fetch',
    async run(ctx) {
      const container = await ctx.container();
      const relays = await relayOverview({ orm: container.orm, policy: container.internalPolicy, trustedKeys: container.trustedKeys, activity: container.relayActivity, settings: container.settings });
      ctx.out(
        json(
          relays.map((r) => ({
            relayId: r.relayId,
            publicKey: r.publicKey,
            source: r.source,
            firstSeen: r.source === 'static' ? null : r.firstSeen.toISOString(),
            lastSeen: r.source === 'static' ? null : r.lastSeen.toISOString(),
            versions: r.versions,
            trustedBy: r.trustedBy,
            lastConfigFetch: r.lastConfigFetch ? { at: r.lastConfigFetch.at.toISOString(), internalBy: r.lastConfigFetch.internalBy } : null,
          })),
        ),
      );
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
  'relays trust': {
    summary: 'trust a relay public key as internal (every API replica within seconds, no restart)',
    usage: 'relays trust PUBLIC_KEY [--name NAME]',
    options: { name: { type: 'string' } },
    async run(ctx) {
      const publicKey = publicKeyArgument(ctx);
      const { alreadyTrusted } = await trustRelayKey(await ctx.container(), publicKey, nameOption(ctx));
      ctx.out(alreadyTrusted ? `Relay key ${publicKey} was already trusted (name updated)` : `Trusted relay key ${publicKey}`);
    },
  },
  'relays untrust': {
    summary: 'stop trusting a relay public key (its config requests get 403 within seconds)',
    usage: 'relays untrust PUBLIC_KEY',
    async run(ctx) {
      const publicKey = publicKeyArgument(ctx);
      const container = await ctx.container();
      await untrustRelayKey(container, publicKey);
      const alsoSetting = container.settings.relayWhitelistPk.includes(publicKey) ? ' (it stays internal through RELAY_WHITELIST_PK)' : '';
      ctx.out(`Untrusted relay key ${publicKey}${alsoSetting}`);
    },
  },
  'relays credentials': {
    summary: "write new Relay credentials (Relay's credentials.json, mode 0600) and print the public key",
    usage: 'relays credentials --out FILE [--trust] [--name NAME]',
    options: { out: { type: 'string' }, trust: { type: 'boolean' }, name: { type: 'string' } },
    async run(ctx) {
      const out = ctx.values.out;
      if (typeof out !== 'string' || out.trim() === '') throw new CliError('--out FILE is required');
      if (ctx.values.name !== undefined && ctx.values.trust !== true) throw new CliError('--name only applies with --trust');
      const { publicKey } = await writeCredentials(out);
      if (ctx.values.trust === true) {
        try {
          await trustRelayKey(await ctx.container(), publicKey, nameOption(ctx));
        } catch (error) {
          // Nothing half-done: the next attempt can use the same path.
          await unlink(out).catch(() => undefined);
          throw error;
        }
      }
      ctx.out(publicKey);
    },
  },
};
