import { BlockList, isIPv4 } from 'node:net';
import type { Settings, StaticRelay } from '../config/settings';
import { parseCidr } from '../formats';

/**
 * Who counts as internal, decided per request and never trusted from a stored column: the relay's
 * public key is whitelisted, or it is a static relay marked internal, or the caller's address is
 * inside an internal CIDR.
 */
export interface InternalPolicy {
  staticRelay(relayId: string): StaticRelay | undefined;
  /** Whitelisted or static-internal: what another relay's `internal` flag means (`publickeys/`). */
  isInternalRelay(relayId: string, publicKey: string): boolean;
  /** The full per-request decision, including the caller's address. */
  isInternalRequest(relayId: string, publicKey: string, clientIp: string | undefined): boolean;
}

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
  const isInternalRelay = (relayId: string, publicKey: string) => whitelist.has(publicKey) || staticRelay(relayId)?.internal === true;
  return {
    staticRelay,
    isInternalRelay,
    isInternalRequest(relayId, publicKey, clientIp) {
      return isInternalRelay(relayId, publicKey) || (clientIp !== undefined && isInternalCaller(clientIp));
    },
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
