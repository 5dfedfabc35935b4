import { installationStatus, keyStatus, type InstallationStatus, type KeyStatus } from '../../services/operations';
import { PUBLIC_KEY_RE } from '../../services/keys';
import { CliError } from '../cli-error';
import { json } from './args';
import type { Command } from './command';

const yesNo = (ok: boolean) => (ok ? 'reachable' : 'UNREACHABLE');

function describeStatus(s: InstallationStatus): string {
  const lines = [`PostgreSQL: ${yesNo(s.postgres.reachable)}`, `Redis:      ${yesNo(s.redis.reachable)}`];
  if (s.outbox) lines.push(`Outbox:     ${s.outbox.depth} rows waiting${s.outbox.depth > 0 ? `, oldest ${s.outbox.oldestAgeS.toFixed(1)} s old` : ''}`);
  if (s.queues) {
    lines.push('Queues:');
    for (const [queue, counts] of Object.entries(s.queues)) lines.push(`  ${queue.padEnd(34)} ${Object.entries(counts).map(([state, n]) => `${state} ${n}`).join(', ')}`);
  }
  if (s.cachedConfigs !== null) lines.push(`Cached configs: ${s.cachedConfigs}`);
  if (s.relays) lines.push(`Registered relays: ${s.relays.registered}${s.relays.lastSeen ? ` (last registration ${s.relays.lastSeen})` : ''}`);
  if (s.trustedRelays) {
    lines.push(`Trusted relay keys: ${s.trustedRelays.length}`);
    for (const t of s.trustedRelays) lines.push(`  ${t.publicKey} ${t.name || '-'}  last seen ${t.lastSeen ?? 'never'}, last config fetch ${t.lastConfigFetch ?? 'never'}`);
  }
  return lines.join('\n');
}

function describeKey(k: KeyStatus): string {
  const lines = [`${k.publicKey}: ${k.state}`];
  lines.push(k.cached ? `  cached since ${k.cached.since ?? 'unknown'}, rev ${k.cached.rev ?? '-'}${k.cached.disabled ? ' (disabled)' : ''}, expires in ${k.cached.expiresInS} s` : '  not cached');
  lines.push(k.claim ? `  build claimed since ${k.claim.since} (claim expires in ${k.claim.expiresInS} s)` : '  no build in flight');
  lines.push(k.lastFailure ? `  last build error at ${k.lastFailure.at} after ${k.lastFailure.attempts} attempt(s): ${k.lastFailure.reason}: ${k.lastFailure.message}` : '  no build error recorded');
  return lines.join('\n');
}

export const statusCommands: Record<string, Command> = {
  status: {
    summary: 'is the installation healthy: PostgreSQL, Redis, queues, outbox, relays, cached configs (--json for scripts)',
    usage: 'status [--json]',
    options: { json: { type: 'boolean' } },
    async run(ctx) {
      const status = await installationStatus(await ctx.container());
      ctx.out(ctx.values.json === true ? json(status) : describeStatus(status));
      // A backlog is reported, not an error; an unreachable store is.
      if (!status.postgres.reachable || !status.redis.reachable) throw new CliError(`${[!status.postgres.reachable && 'PostgreSQL', !status.redis.reachable && 'Redis'].filter(Boolean).join(' and ')} unreachable`);
    },
  },
  'configs status': {
    summary: 'why is this key pending: cached since when with which rev, build in flight, last build error',
    usage: 'configs status PUBLIC_KEY [--json]',
    options: { json: { type: 'boolean' } },
    async run(ctx) {
      const [publicKey] = ctx.positionals;
      if (!publicKey || !PUBLIC_KEY_RE.test(publicKey)) throw new CliError('give a public key: 32 lower-case hex characters');
      const status = await keyStatus(await ctx.container(), publicKey);
      ctx.out(ctx.values.json === true ? json(status) : describeKey(status));
    },
  },
};
