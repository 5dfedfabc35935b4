import type { RedisLayout } from './layout';
import { whenConnected, type RedisClient } from './redis';

/**
 * The operator-managed list of internal relay keys (`relays trust`), as the request path reads it:
 * one Redis hash (public key → name) that the outbox publishes PostgreSQL's table to, copied into
 * the process at most every `ttlMs`. A request never reads PostgreSQL, and costs one HGETALL per
 * process per `ttlMs` at most (concurrent refreshes share one round trip).
 *
 * Contract: an untrusted key stops counting as internal within `ttlMs` of its publication; while
 * Redis does not answer, the last copy is used for up to `staleMaxMs`, then the error propagates
 * (the request gets a 503 rather than a decision from a list that may be long outdated).
 */
export interface TrustedRelayKeyCache {
  /** Public key → name of every trusted key. */
  current(): Promise<ReadonlyMap<string, string>>;
  publish(publicKey: string, name: string): Promise<void>;
  remove(publicKey: string): Promise<void>;
}

export interface TrustedRelayKeyCacheOptions {
  ttlMs: number;
  staleMaxMs: number;
  connectWaitMs: number;
}


export function createTrustedRelayKeyCache(redis: RedisClient, layout: RedisLayout, options: TrustedRelayKeyCacheOptions = { ttlMs: 2000, staleMaxMs: 60_000, connectWaitMs: 1000 }): TrustedRelayKeyCache {
  const hash = layout.trustedRelayKeys;
  let copy: ReadonlyMap<string, string> | null = null;
  let loadedAt = 0;
  let loading: Promise<ReadonlyMap<string, string>> | null = null;

  const load = async () => {
    try {
      // The request path's connection queues nothing: the very first request of a process would
      // fail while it is still connecting, so that one waits briefly for the connection.
      if (copy === null && redis.status !== 'ready') await whenConnected(redis, options.connectWaitMs);
      const all = await redis.hgetall(hash);
      copy = new Map(Object.entries(all));
      loadedAt = Date.now();
      return copy;
    } catch (error) {
      if (copy && Date.now() - loadedAt < options.staleMaxMs) return copy;
      throw error;
    } finally {
      loading = null;
    }
  };

  const forget = () => {
    loadedAt = 0;
  };

  return {
    current() {
      if (copy && Date.now() - loadedAt < options.ttlMs) return Promise.resolve(copy);
      loading ??= load();
      return loading;
    },
    async publish(publicKey, name) {
      await redis.hset(hash, publicKey, name);
      forget();
    },
    async remove(publicKey) {
      await redis.hdel(hash, publicKey);
      forget();
    },
  };
}
