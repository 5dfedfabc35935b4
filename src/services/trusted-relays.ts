import { TRUSTED_RELAY_BOUNDS } from '../options/bounds';
import type { TrustedRelay } from '../options/registry';
import { parseRelayPublicKey } from '../relay-auth/keys';
import { isPlainObject } from '../formats';

/**
 * The organization's trusted relays (`sentry:trusted-relays`), validated and saved as Sentry
 * does (ADMIN_API.md, "Trusted relays"): the incoming list replaces the stored one, `created`
 * survives for known keys, `lastModified` moves only for new or edited entries, and a save that
 * changes nothing is reported as unchanged so the caller writes, records and invalidates nothing.
 */

/** One validated incoming entry; the name is trimmed. */
export interface TrustedRelayInput {
  publicKey: string;
  name: string;
  description: string;
}

export type TrustedRelaysValidation = { ok: true; value: TrustedRelayInput[] } | { ok: false; errors: string[] };

function validateEntry(item: unknown): TrustedRelayInput | string {
  if (!isPlainObject(item)) return 'Bad structure received for Trusted Relays';
  const { name, publicKey, description } = item;
  if (name === undefined || name === null) return 'Relay key info with missing name in Trusted Relays';
  if (typeof name !== 'string') return 'Bad structure received for Trusted Relays';
  const trimmed = name.trim();
  if (trimmed.length === 0) return 'Relay key info with empty name in Trusted Relays';
  if (publicKey !== undefined && publicKey !== null && typeof publicKey !== 'string') return 'Bad structure received for Trusted Relays';
  if (description !== undefined && description !== null && typeof description !== 'string') return 'Bad structure received for Trusted Relays';
  if (trimmed.length > TRUSTED_RELAY_BOUNDS.maxNameChars) return `Relay key info with a name over ${TRUSTED_RELAY_BOUNDS.maxNameChars} characters in Trusted Relays`;
  if (typeof description === 'string' && description.length > TRUSTED_RELAY_BOUNDS.maxDescriptionChars) {
    return `Relay key info with a description over ${TRUSTED_RELAY_BOUNDS.maxDescriptionChars} characters in Trusted Relays`;
  }
  if (!publicKey) return `Missing public key for relay key info with name:'${trimmed}' in Trusted Relays`;
  if (parseRelayPublicKey(publicKey) === null) return `Invalid public key for relay key info with name:'${trimmed}' in Trusted Relays`;
  return { publicKey, name: trimmed, description: description ?? '' };
}

/**
 * Checks the incoming list, reported under `trustedRelays`: Sentry's messages, plus the size
 * bounds Sentry does not have (entry count, name and description length).
 */
export function validateTrustedRelays(input: unknown): TrustedRelaysValidation {
  if (input === null) return { ok: false, errors: ['This field may not be null.'] };
  if (!Array.isArray(input)) return { ok: false, errors: [`Expected a list of items but got type "${typeof input}".`] };
  // Every entry's key lands in each config of the organization: the list is bounded (bounds.ts).
  if (input.length > TRUSTED_RELAY_BOUNDS.maxItems) return { ok: false, errors: [`Ensure this field has no more than ${TRUSTED_RELAY_BOUNDS.maxItems} elements.`] };
  const errors: string[] = [];
  const value: TrustedRelayInput[] = [];
  for (const item of input) {
    const entry = validateEntry(item);
    if (typeof entry === 'string') {
      if (!errors.includes(entry)) errors.push(entry);
    } else value.push(entry);
  }
  if (errors.length > 0) return { ok: false, errors };
  const seen = new Set<string>();
  for (const { publicKey } of value) {
    const message = `Duplicated key in Trusted Relays: '${publicKey}'`;
    if (seen.has(publicKey) && !errors.includes(message)) errors.push(message);
    seen.add(publicKey);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value };
}

/** An entry in the field order responses and audit entries show (jsonb does not keep key order). */
export function canonicalTrustedRelay(entry: TrustedRelay): TrustedRelay {
  return { publicKey: entry.publicKey, name: entry.name, description: entry.description ?? '', created: entry.created, lastModified: entry.lastModified };
}

/**
 * The list to store and whether it differs from the stored one: a new key, a changed name or
 * description, or a different length (deletions) count as changes; a reordering alone does not.
 */
export function mergeTrustedRelays(stored: readonly TrustedRelay[], incoming: readonly TrustedRelayInput[], now: Date): { value: TrustedRelay[]; changed: boolean } {
  const timestamp = now.toISOString();
  const known = new Map(stored.map((entry) => [entry.publicKey, entry]));
  let changed = incoming.length !== stored.length;
  const value = incoming.map((entry): TrustedRelay => {
    const existing = known.get(entry.publicKey);
    const modified = !existing || existing.name !== entry.name || (existing.description ?? '') !== entry.description;
    if (modified) changed = true;
    return {
      publicKey: entry.publicKey,
      name: entry.name,
      description: entry.description,
      created: existing?.created ?? timestamp,
      lastModified: modified ? timestamp : (existing?.lastModified ?? timestamp),
    };
  });
  return { value, changed };
}
