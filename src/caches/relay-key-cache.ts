import type { KeyObject } from 'node:crypto';
import { parseRelayPublicKey } from '../relay-auth/keys';
import type { RedisLayout } from './layout';
import type { RedisClient } from './redis';

/**
 * Public keys of registered relays for the request path: an in-process cache in front of one
 * Redis hash that registration writes. PostgreSQL is never read per request.
 *
 * Contract: `get` may return a key up to `positiveTtlMs` after `remove`, and may miss a just
 * registered relay for up to `negativeTtlMs`; it never returns a key that was never published.
 */
export interface RelayKeyCache {
  get(relayId: string): Promise<RelayKey | null>;
  publish(relayId: string, publicKey: string): Promise<void>;
  publishMany(entries: readonly { relayId: string; publicKey: string }[]): Promise<void>;
  remove(relayId: string): Promise<void>;
  removeMany(relayIds: readonly string[]): Promise<void>;
}

export interface RelayKey {
  publicKey: string;
  key: KeyObject;
}

export function createRelayKeyCache(redis: RedisClient, layout: RedisLayout, options = { positiveTtlMs: 60_000, negativeTtlMs: 2_000, maxEntries: 10_000 }): RelayKeyCache {
  const hash = layout.relayPublicKeys;
  const local = new Map<string, { value: RelayKey | null; expires: number }>();
  const remember = (relayId: string, value: RelayKey | null) => {
    if (local.size >= options.maxEntries) local.delete(local.keys().next().value!);
    local.set(relayId, { value, expires: Date.now() + (value ? options.positiveTtlMs : options.negativeTtlMs) });
  };
  return {
    async get(relayId) {
      const hit = local.get(relayId);
      if (hit && hit.expires > Date.now()) return hit.value;
      const publicKey = await redis.hget(hash, relayId);
      const key = publicKey ? parseRelayPublicKey(publicKey) : null;
      const value = publicKey && key ? { publicKey, key } : null;
      remember(relayId, value);
      return value;
    },
    async publish(relayId, publicKey) {
      await redis.hset(hash, relayId, publicKey);
      local.delete(relayId);
    },
    async publishMany(entries) {
      if (entries.length === 0) return;
      await redis.hset(hash, Object.fromEntries(entries.map((e) => [e.relayId, e.publicKey])));
    },
    async remove(relayId) {
      await redis.hdel(hash, relayId);
      local.delete(relayId);
    },
    async removeMany(relayIds) {
      if (relayIds.length === 0) return;
      await redis.hdel(hash, ...relayIds);
      for (const relayId of relayIds) local.delete(relayId);
    },
  };
}
