import { isIP } from 'node:net';

/**
 * Formats and shape checks that settings, the API, the CLI and the builder share: each rule is
 * written here once. Pure; imports nothing of the service.
 */

/** A relay id (and an avatar id): a lower-case UUID, as Relay and Sentry write them. */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A DSN public key (and secret key): 32 lower-case hex characters. */
export const PUBLIC_KEY_RE = /^[0-9a-f]{32}$/;

/** A JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** An IP address or CIDR block (`10.0.0.0/8`, `::1`), or null when it is neither. */
export function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address, prefixText, ...rest] = entry.split('/');
  if (rest.length > 0 || address === undefined) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d+$/.test(prefixText) ? Number(prefixText) : -1;
  if (prefix < 0 || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}
