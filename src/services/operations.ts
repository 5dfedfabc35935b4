import { createBuildFailureLog, type BuildFailure } from '../caches/build-failures';
import { scanNodes, whenConnected } from '../caches/redis';
import type { Container } from '../container';
import { Relay } from '../db/entities';
import { outboxStats, type OutboxStats } from '../db/outbox';
import { withTimeout } from '../with-timeout';
import { listTrustedRelayKeys } from './relay-trust';

/**
 * What an operator asks first: is the installation healthy (`status`), and why is this key
 * pending (`configs status`). Read-only; nothing here is on the request path.
 */

export interface KeyStatus {
  publicKey: string;
  /** cached: a config is served; building: a claim is held (a build is queued or running); failed: the last build failed and nothing newer is cached; missing: none of these (the next poll schedules a build). */
  state: 'cached' | 'building' | 'failed' | 'missing';
  cached: { since: string | null; rev: string | null; disabled: boolean; expiresInS: number } | null;
  claim: { since: string; expiresInS: number } | null;
  lastFailure: BuildFailure | null;
}

/** A CLI process's connection is new: give it this long to connect before Redis counts as unreachable. */
const CONNECT_WAIT_MS = 2000;

/** Seconds a key has left; null for no key or no expiry. */
const secondsLeft = (pttl: number) => (pttl > 0 ? Math.ceil(pttl / 1000) : null);

export async function keyStatus(container: Container, publicKey: string): Promise<KeyStatus> {
  const { redis, layout, settings } = container;
  await whenConnected(redis, CONNECT_WAIT_MS);
  const [config, configTtl, claim, claimTtl] = await Promise.all([
    redis.get(layout.config(publicKey)),
    redis.pttl(layout.config(publicKey)),
    redis.get(layout.claim(publicKey)),
    redis.pttl(layout.claim(publicKey)),
  ]);
  const lastFailure = await createBuildFailureLog(redis, layout).get(publicKey);
  let cached: KeyStatus['cached'] = null;
  if (config !== null) {
    let parsed: { rev?: unknown; lastFetch?: unknown; disabled?: unknown } = {};
    try {
      parsed = JSON.parse(config) as typeof parsed;
    } catch {
      // a value this version does not read: reported without details
    }
    cached = {
      // The builder stamps lastFetch when it computes a config: the time it was written.
      since: typeof parsed.lastFetch === 'string' ? parsed.lastFetch : null,
      rev: typeof parsed.rev === 'string' ? parsed.rev : null,
      disabled: parsed.disabled === true,
      expiresInS: secondsLeft(configTtl) ?? 0,
    };
  }
  const claimLeftS = secondsLeft(claimTtl);
  const claimInfo = claim !== null && claimLeftS !== null ? { since: new Date(Date.now() - (settings.buildClaimTtlS - claimLeftS) * 1000).toISOString(), expiresInS: claimLeftS } : null;
  const failedAt = lastFailure ? Date.parse(lastFailure.at) : Number.NaN;
  const newerThanCache = !cached || cached.since === null || failedAt > Date.parse(cached.since);
  const newerThanClaim = !claimInfo || failedAt >= Date.parse(claimInfo.since) - 1000;
  let state: KeyStatus['state'] = 'missing';
  if (lastFailure && newerThanCache && newerThanClaim) state = 'failed';
  else if (cached) state = 'cached';
  else if (claimInfo) state = 'building';
  return { publicKey, state, cached, claim: claimInfo, lastFailure };
}

export interface InstallationStatus {
  postgres: { reachable: boolean };
  redis: { reachable: boolean };
  queues: Record<string, Record<string, number>> | null;
  outbox: OutboxStats | null;
  relays: { registered: number; lastSeen: string | null } | null;
  trustedRelays: { publicKey: string; name: string; lastSeen: string | null; lastConfigFetch: string | null }[] | null;
  cachedConfigs: number | null;
}

/** Counts cached configs with SCAN (never KEYS), so Redis keeps serving meanwhile. */
async function countCachedConfigs(container: Container): Promise<number> {
  const { redis, layout } = container;
  const pattern = `${layout.config('*')}`;
  let count = 0;
  for (const node of scanNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      count += keys.filter((k) => !k.endsWith('.rev')).length;
    } while (cursor !== '0');
  }
  return count;
}

/** A figure that could not be read is reported as null (the reachability lines say why). */
const orNull = <T>(promise: Promise<T>): Promise<T | null> => withTimeout(promise, 5000).catch(() => null);

export async function installationStatus(container: Container): Promise<InstallationStatus> {
  await whenConnected(container.redis, CONNECT_WAIT_MS);
  const { postgres, redis } = await container.readiness();
  const [queues, outbox, relays, trusted, cachedConfigs] = await Promise.all([
    redis ? orNull(jobCounts(container)) : null,
    postgres ? orNull(outboxStats(container.orm)) : null,
    postgres
      ? orNull(
          (async () => {
            const em = container.orm.em.fork();
            const registered = await em.count(Relay, {});
            const [latest] = await em.find(Relay, {}, { orderBy: { lastSeen: 'desc' }, fields: ['lastSeen'], limit: 1 });
            return { registered, lastSeen: latest?.lastSeen.toISOString() ?? null };
          })(),
        )
      : null,
    postgres ? orNull(trustedWithActivity(container, redis)) : null,
    redis ? orNull(countCachedConfigs(container)) : null,
  ]);
  return { postgres: { reachable: postgres }, redis: { reachable: redis }, queues, outbox, relays, trustedRelays: trusted, cachedConfigs };
}

async function jobCounts(container: Container): Promise<Record<string, Record<string, number>>> {
  const depth: Record<string, Record<string, number>> = {};
  for (const queue of Object.values(container.queues)) depth[queue.name] = await queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed');
  return depth;
}

async function trustedWithActivity(container: Container, redisUp: boolean): Promise<InstallationStatus['trustedRelays']> {
  const trusted = await listTrustedRelayKeys(container);
  const relays = trusted.length > 0 ? await container.orm.em.fork().find(Relay, { publicKey: { $in: trusted.map((t) => t.publicKey) } }) : [];
  const fetches = redisUp ? await container.relayActivity.lastConfigFetches(relays.map((r) => r.relayId)).catch(() => new Map()) : new Map();
  return trusted.map((t) => {
    const relay = relays.filter((r) => r.publicKey === t.publicKey).sort((a, b) => b.lastSeen.getTime() - a.lastSeen.getTime())[0];
    const fetch = relay ? (fetches.get(relay.relayId) as { at: Date } | undefined) : undefined;
    return { publicKey: t.publicKey, name: t.name, lastSeen: relay?.lastSeen.toISOString() ?? null, lastConfigFetch: fetch?.at.toISOString() ?? null };
  });
}
