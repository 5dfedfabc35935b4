import { LockMode } from '@mikro-orm/core';
import { TrustedRelayKey } from '../db/entities';
import type { Orm } from '../db/orm';
import { writeOutbox } from '../db/outbox';
import { NotFoundError, ValidationError } from '../errors';
import { parseRelayPublicKey } from '../relay-auth/keys';

/**
 * The operator-managed list of internal relay keys (`relays trust` / `relays untrust`; PROTOCOL.md
 * §2 "Internal"). PostgreSQL holds the list; each change writes an outbox row in its transaction,
 * and the row's publication copies the key's current state to the Redis hash every API process
 * reads (caches/trusted-relay-key-cache.ts): effective within seconds, no restart, no database
 * read per request. `RELAY_WHITELIST_PK` keeps working beside it.
 */

export const TRUSTED_NAME_MAX_CHARS = 200;

export interface TrustedKeyEntry {
  publicKey: string;
  name: string;
  createdAt: Date;
}

function checkPublicKey(publicKey: string): void {
  if (parseRelayPublicKey(publicKey) === null) throw new ValidationError({ publicKey: ['Not a relay public key (43 characters of unpadded base64url).'] });
}

/** Trusts a key (or renames a trusted one). Returns whether it was trusted before. */
export async function trustRelayKey(deps: { orm: Orm }, publicKey: string, name = ''): Promise<{ alreadyTrusted: boolean }> {
  checkPublicKey(publicKey);
  const trimmed = name.trim();
  if (trimmed.length > TRUSTED_NAME_MAX_CHARS) throw new ValidationError({ name: [`Ensure this field has no more than ${TRUSTED_NAME_MAX_CHARS} characters.`] });
  return deps.orm.em.fork().transactional(async (em) => {
    // The row's lock is held to commit, so this key's outbox rows are in commit order.
    const existing = await em.findOne(TrustedRelayKey, { publicKey }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (existing) existing.name = trimmed;
    else em.create(TrustedRelayKey, { publicKey, name: trimmed, createdAt: new Date() });
    await em.flush();
    await writeOutbox(em, [{ kind: 'trusted-relay-key', publicKey }]);
    return { alreadyTrusted: existing !== null };
  });
}

/** Stops trusting a key; a 404 when it was not on the list (a key set by `RELAY_WHITELIST_PK` is not). */
export async function untrustRelayKey(deps: { orm: Orm }, publicKey: string): Promise<void> {
  checkPublicKey(publicKey);
  await deps.orm.em.fork().transactional(async (em) => {
    const deleted = await em.nativeDelete(TrustedRelayKey, { publicKey });
    if (deleted === 0) throw new NotFoundError(`The key ${publicKey} is not on the trusted list`);
    await writeOutbox(em, [{ kind: 'trusted-relay-key', publicKey }]);
  });
}

export async function listTrustedRelayKeys(deps: { orm: Orm }): Promise<TrustedKeyEntry[]> {
  const rows = await deps.orm.em.fork().find(TrustedRelayKey, {}, { orderBy: { createdAt: 'asc', publicKey: 'asc' } });
  return rows.map((r) => ({ publicKey: r.publicKey, name: r.name, createdAt: r.createdAt }));
}

/** What the outbox publishes for a trusted key: its name now, or null when it is not trusted. */
export async function trustedRelayKeyName(orm: Orm, publicKey: string): Promise<string | null> {
  const row = await orm.em.fork().findOne(TrustedRelayKey, { publicKey }, { fields: ['name'] });
  return row ? row.name : null;
}

/**
 * Re-publishes the whole list (at start-up: Redis may have lost its data, or hold keys removed
 * meanwhile): one outbox row per key in PostgreSQL or in the Redis hash, so each key ends in the
 * state its row holds at publication.
 */
export async function republishTrustedRelayKeys(deps: { orm: Orm; inRedis: readonly string[] }): Promise<number> {
  const stored = (await listTrustedRelayKeys(deps)).map((e) => e.publicKey);
  const keys = [...new Set([...stored, ...deps.inRedis])];
  if (keys.length === 0) return 0;
  await deps.orm.em.fork().transactional(async (em) => {
    await writeOutbox(em, keys.map((publicKey) => ({ kind: 'trusted-relay-key' as const, publicKey })));
  });
  return keys.length;
}
