import type { Redis, RedisKeys } from './redis';

/**
 * The project config cache (DESIGN.md): serialized configs under `relayconfig:<publicKey>` and
 * their revisions under `relayconfig:<publicKey>.rev`, both with the same TTL.
 *
 * Contract every implementation keeps:
 * - `getMany` returns exactly the stored text for every key that has a config, nothing else;
 *   it never parses or re-serializes (the hot path splices the text into responses).
 * - `setMany` stores config and rev together; an entry without a rev (a disabled config) leaves
 *   no rev behind, so it can never be answered `unchanged`.
 * - `getRevs` returns the rev only for keys whose config is also present.
 * - `deleteMany` removes config and rev.
 * A reader may see a config expire at any moment; a stale read is never worse than a miss.
 */
export interface ProjectConfigCache {
  getMany(publicKeys: readonly string[]): Promise<Map<string, string>>;
  getRevs(publicKeys: readonly string[]): Promise<Map<string, string>>;
  setMany(entries: readonly CacheEntry[], ttlS: number): Promise<void>;
  deleteMany(publicKeys: readonly string[]): Promise<void>;
  /** Which of the keys currently have a cached config. */
  cachedKeys(publicKeys: readonly string[]): Promise<Set<string>>;
}

export interface CacheEntry {
  publicKey: string;
  /** The serialized config. */
  json: string;
  /** The config's `rev`; null for `{"disabled":true}`. */
  rev: string | null;
}

export function createRedisProjectConfigCache(redis: Redis, keys: RedisKeys): ProjectConfigCache {
  return {
    async getMany(publicKeys) {
      const found = new Map<string, string>();
      if (publicKeys.length === 0) return found;
      const values = await redis.mget(publicKeys.map(keys.config));
      publicKeys.forEach((publicKey, i) => {
        const value = values[i];
        if (value !== null && value !== undefined) found.set(publicKey, value);
      });
      return found;
    },

    async getRevs(publicKeys) {
      const found = new Map<string, string>();
      if (publicKeys.length === 0) return found;
      const pipeline = redis.pipeline();
      for (const publicKey of publicKeys) pipeline.get(keys.rev(publicKey)).exists(keys.config(publicKey));
      const results = (await pipeline.exec()) ?? [];
      publicKeys.forEach((publicKey, i) => {
        const [revError, rev] = results[2 * i] ?? [];
        const [existsError, exists] = results[2 * i + 1] ?? [];
        if (revError) throw revError;
        if (existsError) throw existsError;
        if (typeof rev === 'string' && exists === 1) found.set(publicKey, rev);
      });
      return found;
    },

    async setMany(entries, ttlS) {
      if (entries.length === 0) return;
      const multi = redis.multi();
      for (const entry of entries) {
        multi.set(keys.config(entry.publicKey), entry.json, 'EX', ttlS);
        if (entry.rev) multi.set(keys.rev(entry.publicKey), entry.rev, 'EX', ttlS);
        else multi.del(keys.rev(entry.publicKey));
      }
      await execOrThrow(multi);
    },

    async deleteMany(publicKeys) {
      if (publicKeys.length === 0) return;
      await redis.del(...publicKeys.flatMap((publicKey) => [keys.config(publicKey), keys.rev(publicKey)]));
    },

    async cachedKeys(publicKeys) {
      const cached = new Set<string>();
      if (publicKeys.length === 0) return cached;
      const pipeline = redis.pipeline();
      for (const publicKey of publicKeys) pipeline.exists(keys.config(publicKey));
      const results = (await pipeline.exec()) ?? [];
      publicKeys.forEach((publicKey, i) => {
        const [error, exists] = results[i] ?? [];
        if (error) throw error;
        if (exists === 1) cached.add(publicKey);
      });
      return cached;
    },
  };
}

/** Runs a MULTI and throws the first command error (ioredis reports them per command). */
export async function execOrThrow(multi: ReturnType<Redis['multi']>): Promise<void> {
  const results = await multi.exec();
  if (results === null) throw new Error('Redis transaction was aborted');
  for (const [error] of results) if (error) throw error;
}
