import { BlockList, isIPv4 } from 'node:net';
import type { Settings, StaticRelay } from '../config/settings';
import { parseCidr } from '../formats';

/**
 * Who counts as internal, decided per request and never trusted from a stored column: the relay's
 * public key is whitelisted (`RELAY_WHITELIST_PK`, or the operator's trusted list, passed in as
 * the request path's current copy), or it is a static relay marked internal, or the caller's
 * address is inside an internal CIDR.
 */
export interface InternalPolicy {
  staticRelay(relayId: string): StaticRelay | undefined;
  /** Whitelisted or static-internal: what another relay's `internal` flag means (`publickeys/`). */
  isInternalRelay(relayId: string, publicKey: string, trusted?: TrustedKeys): boolean;
  /** The full per-request decision, including the caller's address. */
  isInternalRequest(relayId: string, publicKey: string, clientIp: string | undefined, trusted?: TrustedKeys): boolean;
  /** Why a relay is internal (the first rule that applies, in that order), or null when it is not. */
  classify(relayId: string, publicKey: string, clientIp: string | undefined, trusted?: TrustedKeys): InternalReason | null;
}

/** The operator's trusted keys as the request path holds them (public key → name). */
export type TrustedKeys = ReadonlyMap<string, string>;

/** What made a relay internal: the setting, the trusted list, a static relay, or the caller's CIDR. */
export type InternalReason = 'setting' | 'trusted-list' | 'static' | 'internal-cidr';

export function createInternalPolicy(settings: Pick<Settings, 'relayWhitelistPk' | 'relayStaticAuth' | 'internalSystemIps'>): InternalPolicy {
  const whitelist = new Set(settings.relayWhitelistPk);
  const blocks = new BlockList();
  for (const entry of settings.internalSystemIps) {
    const cidr = parseCidr(entry);
    if (cidr) blocks.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  // Callers come from few addresses; checking a BlockList allocates, so remember the answers.
  const addressVerdicts = new Map<string, boolean>();
  const isInternalCaller = (ip: string) => {
    let verdict = addressVerdicts.get(ip);
    if (verdict === undefined) {
      verdict = isInternalAddress(blocks, ip);
      if (addressVerdicts.size >= 10_000) addressVerdicts.clear();
      addressVerdicts.set(ip, verdict);
    }
    return verdict;
  };
  const staticRelay = (relayId: string) => (Object.hasOwn(settings.relayStaticAuth, relayId) ? settings.relayStaticAuth[relayId] : undefined);
  const classifyRelay = (relayId: string, publicKey: string, trusted?: TrustedKeys): InternalReason | null => {
    if (whitelist.has(publicKey)) return 'setting';
    if (trusted?.has(publicKey)) return 'trusted-list';
    if (staticRelay(relayId)?.internal === true) return 'static';
    return null;
  };
  const classify = (relayId: string, publicKey: string, clientIp: string | undefined, trusted?: TrustedKeys): InternalReason | null =>
    classifyRelay(relayId, publicKey, trusted) ?? (clientIp !== undefined && isInternalCaller(clientIp) ? 'internal-cidr' : null);
  return {
    staticRelay,
    classify,
    isInternalRelay: (relayId, publicKey, trusted) => classifyRelay(relayId, publicKey, trusted) !== null,
    isInternalRequest: (relayId, publicKey, clientIp, trusted) => classify(relayId, publicKey, clientIp, trusted) !== null,
  };
}

function isInternalAddress(blocks: BlockList, ip: string): boolean {
  // An IPv4 caller on a dual-stack socket arrives as ::ffff:a.b.c.d.
  const mapped = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  try {
    return blocks.check(mapped, isIPv4(mapped) ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}
