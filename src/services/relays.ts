import { LockMode } from '@mikro-orm/core';
import type { RelayActivity } from '../caches/relay-activity';
import type { RelayKeyCache } from '../caches/relay-key-cache';
import type { TrustedRelayKeyCache } from '../caches/trusted-relay-key-cache';
import type { Settings } from '../config/settings';
import type { InternalPolicy } from '../relay-auth/internal-policy';
import { Relay, RelayUsage } from '../db/entities';
import type { Orm } from '../db/orm';
import { writeOutbox } from '../db/outbox';

/**
 * Registered relays: registration, publication of their keys to the request path, and removal.
 * PostgreSQL holds the truth; the Redis hash behind `RelayKeyCache` follows it through the outbox:
 * every transaction that writes a relay row also writes the key change, and it reaches Redis after
 * the commit — at once when Redis answers, else as soon as it does (a removed relay never keeps
 * authenticating because Redis was down when it was removed).
 */

export interface RelayServiceDeps {
  orm: Orm;
  relayKeys: RelayKeyCache;
}

export interface RelayRegistration {
  relayId: string;
  publicKey: string;
  version: string;
}

/**
 * Records a completed registration: the relay row (first registration) or its `last_seen` (a
 * re-registration with the same key), and its usage row per version, in one transaction with the
 * key's outbox row; the key is published after the commit. An existing relay's key is never changed: a registration with
 * another key writes nothing and answers `different-public-key` (an operator removes a relay to
 * let it register with a new key).
 */
export async function recordRelayRegistration(deps: RelayServiceDeps, registration: RelayRegistration, now: Date = new Date()): Promise<'registered' | 'different-public-key'> {
  const { relayId, publicKey, version } = registration;
  const outcome = await deps.orm.em.fork().transactional(async (em) => {
    // One statement decides, so two first registrations racing with different keys cannot both win.
    const kept = await em
      .createQueryBuilder(Relay)
      .insert({ relayId, publicKey, firstSeen: now, lastSeen: now })
      .onConflict('relayId')
      .merge(['lastSeen'])
      .where({ publicKey })
      .execute<{ id: number }[]>('all');
    if (kept.length === 0) return 'different-public-key' as const;
    await em.upsert(RelayUsage, { relayId, version, publicKey, firstSeen: now, lastSeen: now }, {
      onConflictFields: ['relayId', 'version'],
      onConflictMergeFields: ['lastSeen', 'publicKey'],
    });
    // Under the relay row's lock, so this row's id follows any earlier removal's (the outbox keeps a relay's order).
    await writeOutbox(em, [{ kind: 'relay-key', relayId, publicKey }]);
    return 'registered' as const;
  });
  return outcome;
}

/**
 * Copies every registered relay's key to Redis (e.g. after Redis lost its data), a page at a time
 * in id order (keyset pagination), so neither the process nor PostgreSQL holds all relays at once.
 * Returns how many keys were published.
 */
export async function publishRelayKeys(deps: RelayServiceDeps, pageSize = 1000): Promise<number> {
  let afterId = 0;
  let published = 0;
  for (;;) {
    const page = await deps.orm.em.fork().find(Relay, { id: { $gt: afterId } }, { fields: ['id', 'relayId', 'publicKey'], orderBy: { id: 'asc' }, limit: pageSize });
    if (page.length === 0) return published;
    await deps.relayKeys.publishMany(page.map((r) => ({ relayId: r.relayId, publicKey: r.publicKey })));
    published += page.length;
    if (page.length < pageSize) return published;
    afterId = page[page.length - 1].id;
  }
}

/**
 * Removes the relays whose last registration is older than `cutoff`, with their usage rows, and
 * takes their keys out of Redis (through the outbox); `batchSize` relays per transaction. A relay
 * registering again meanwhile waits for the rows' locks and writes its key change after the
 * removal's, so the outbox publishes it after the removal: a removal never wipes a newer
 * registration's key. Returns how many relays were removed.
 */
export async function pruneRelays(deps: RelayServiceDeps, cutoff: Date, batchSize = 1000): Promise<number> {
  let removed = 0;
  for (;;) {
    const batch = await deps.orm.em.fork().transactional(async (em) => {
      // SKIP LOCKED: rows a registration is bumping right now are not stale.
      const stale = await em.find(Relay, { lastSeen: { $lt: cutoff } }, { fields: ['id', 'relayId'], orderBy: { id: 'asc' }, limit: batchSize, lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE });
      if (stale.length === 0) return 0;
      const relayIds = stale.map((r) => r.relayId);
      await em.nativeDelete(RelayUsage, { relayId: { $in: relayIds } });
      await em.nativeDelete(Relay, { id: { $in: stale.map((r) => r.id) } });
      await writeOutbox(em, relayIds.map((relayId) => ({ kind: 'relay-key' as const, relayId, publicKey: null })));
      return stale.length;
    });
    removed += batch;
    if (batch < batchSize) break;
  }
  // Usage rows of versions a live relay no longer runs (and of relays removed by hand) age out too.
  await deps.orm.em.fork().nativeDelete(RelayUsage, { lastSeen: { $lt: cutoff } });
  return removed;
}

/** A registered relay as operators see it, with the versions it registered with (latest first). */
export interface RegisteredRelay {
  relayId: string;
  publicKey: string;
  firstSeen: Date;
  lastSeen: Date;
  versions: string[];
}

/** Every registered relay, oldest registration first. */
export async function listRelays(deps: Pick<RelayServiceDeps, 'orm'>): Promise<RegisteredRelay[]> {
  const em = deps.orm.em.fork();
  const relays = await em.find(Relay, {}, { orderBy: { firstSeen: 'asc', id: 'asc' } });
  const usages = await em.find(RelayUsage, { relayId: { $in: relays.map((r) => r.relayId) } }, { orderBy: { lastSeen: 'desc' } });
  return relays.map((r) => ({
    relayId: r.relayId,
    publicKey: r.publicKey,
    firstSeen: r.firstSeen,
    lastSeen: r.lastSeen,
    versions: usages.filter((u) => u.relayId === r.relayId).map((u) => u.version),
  }));
}

/**
 * Removes one registered relay (`relays remove`): its row (usage rows age out), and its key from Redis
 * through the outbox. False when no such relay is registered.
 */
export async function removeRelay(deps: Pick<RelayServiceDeps, 'orm'>, relayId: string): Promise<boolean> {
  return deps.orm.em.fork().transactional(async (em) => {
    const deleted = await em.nativeDelete(Relay, { relayId });
    if (deleted === 0) return false;
    await writeOutbox(em, [{ kind: 'relay-key', relayId, publicKey: null }]);
    return true;
  });
}

/** A relay as `relays list` shows it: registration, what trusts it, and its last config fetch. */
export interface RelayOverview extends RegisteredRelay {
  /** Static relays (`RELAY_STATIC_AUTH`) are never registered. */
  source: 'registered' | 'static';
  /** What makes it internal whatever its address: the setting, the trusted list, a static entry; null: only its address could. */
  trustedBy: 'setting' | 'trusted-list' | 'static' | null;
  /** Its last config fetch and the rule that applied then (`internal-cidr` included), if any. */
  lastConfigFetch: { at: Date; internalBy: string | null } | null;
}

/** Registered and static relays with their trust and last fetch (no address: `internal-cidr` shows in the last fetch only). */
export async function relayOverview(deps: Pick<RelayServiceDeps, 'orm'> & { policy: InternalPolicy; trustedKeys: TrustedRelayKeyCache; activity: RelayActivity; settings: Pick<Settings, 'relayStaticAuth'> }): Promise<RelayOverview[]> {
  const registered = await listRelays(deps);
  const statics = Object.entries(deps.settings.relayStaticAuth).map(([relayId, r]): RegisteredRelay => ({ relayId, publicKey: r.publicKey, firstSeen: new Date(0), lastSeen: new Date(0), versions: [] }));
  const trusted = await deps.trustedKeys.current();
  const all = [...registered.map((r) => ({ relay: r, source: 'registered' as const })), ...statics.map((r) => ({ relay: r, source: 'static' as const }))];
  const fetches = await deps.activity.lastConfigFetches(all.map((e) => e.relay.relayId));
  return all.map(({ relay, source }) => ({
    ...relay,
    source,
    trustedBy: deps.policy.classify(relay.relayId, relay.publicKey, undefined, trusted) as RelayOverview['trustedBy'],
    lastConfigFetch: fetches.get(relay.relayId) ?? null,
  }));
}
