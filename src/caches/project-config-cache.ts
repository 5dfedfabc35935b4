import { decodePiece, deflatePiece, encodePiece, type DeflatedPiece } from './gzip-splice';
import type { RedisLayout } from './layout';
import type { Redis } from './redis';

/**
 * The project config cache (DESIGN.md, "Config cache", "Debounce", "No stale overwrite"): what
 * the request path, the build and invalidation jobs and the synchronous versions do with cached
 * configs — and nothing else does. Configs live under the public layout Relay reads
 * (`relayconfig:<publicKey>` and its `.rev`); claims and generation stamps beside them.
 *
 * Contract every implementation keeps:
 * - `lookupOrClaim` answers each key from the cache (the stored bytes, never re-encoded), as
 *   `unchanged` when the caller's revision equals the stored rev, or with a build claim: at most
 *   one caller across all processes holds a key's claim, every claim expires after the claim TTL,
 *   and a key written before the lookup is never claimed. A false "in flight" strands nothing
 *   (the claim expires); a false "claimed" costs one extra build.
 * - `writeIfCurrent` stores a config and its rev together (a config without a rev leaves no rev
 *   behind, so it is never answered `unchanged`) unless its organization, project or key changed
 *   after `startedAt` (a reading of `generation()` taken before loading); it releases the claims
 *   of `claimToken` only after writing. A refused write is always safe: the change's own
 *   invalidation recomputes cached keys, and Relay's next poll rebuilds uncached ones.
 * - `disableCached` turns cached configs into `{"disabled":true}` at once; uncached keys stay absent.
 * - Every config written has its pre-compressed reply entry (`"<publicKey>":<config>`) beside it (same TTL, same bytes once
 *   inflated); a reader that finds a config without one (written by an older version) gets the
 *   plain bytes instead and may compress them itself.
 * - `cachedKeys` tells which keys have a config now; a config may expire at any moment after.
 * - `peek` returns the stored text of cached keys and writes nothing.
 * - `delete` removes config and rev together.
 */
export interface ProjectConfigCache {
  /** The global change counter; read it before loading rows from PostgreSQL. */
  generation(): Promise<number>;
  /** With `deflated`, cached configs are answered by their pre-compressed pieces (for a gzip reply). */
  lookupOrClaim(publicKeys: readonly string[], revisions: readonly (string | null)[], token: string, options?: { deflated?: boolean }): Promise<LookupResult[]>;
  /** Releases the claims `token` still holds (another holder's claims stay). */
  releaseClaims(publicKeys: readonly string[], token: string): Promise<number>;
  writeIfCurrent(entries: readonly ConfigWriteEntry[], startedAt: number, ttlS: number, claimToken: string | null): Promise<{ written: string[]; refused: string[] }>;
  disableCached(publicKeys: readonly string[]): Promise<number>;
  cachedKeys(publicKeys: readonly string[]): Promise<Set<string>>;
  /** The stored config text of the cached keys among these (for `configs verify`); claims nothing. */
  peek(publicKeys: readonly string[]): Promise<Map<string, string>>;
  /** Removes configs and revs (a key whose config can no longer be computed must not be served as current). */
  delete(publicKeys: readonly string[]): Promise<void>;
}

export type LookupResult =
  /** The stored config bytes, exactly as written. */
  | { status: 'cached'; json: Buffer }
  /** The stored config's pre-compressed piece (asked for with `deflated`). */
  | { status: 'cached-deflated'; piece: DeflatedPiece }
  | { status: 'unchanged' }
  /** This request took the claim: it must schedule the build. */
  | { status: 'claimed' }
  /** Another request holds the claim: a build is already on its way. */
  | { status: 'in-flight' };

export const DISABLED_JSON = '{"disabled":true}';

export interface ConfigWriteEntry {
  publicKey: string;
  json: string;
  /** The config's `rev`; null for `{"disabled":true}`. */
  rev: string | null;
  /** Null for keys that were not found (their own stamp still guards them). */
  organizationId: number | null;
  projectId: number | null;
}

// KEYS: per public key its config and claim key. ARGV: claim token, claim TTL (ms). Replies per
// key: the config bytes, or 2 = claimed by this call, 0 = claimed by someone else.
const CLAIM_MISSING = `
local token, ttl = ARGV[1], ARGV[2]
local out = {}
for i = 1, #KEYS / 2 do
  local config = redis.call('GET', KEYS[2 * i - 1])
  if config then
    out[i] = config
  elseif redis.call('SET', KEYS[2 * i], token, 'NX', 'PX', ttl) then
    out[i] = 2
  else
    out[i] = 0
  end
end
return out
`;

// KEYS: claim keys. ARGV: the token. Deletes only the claims this token still holds.
const RELEASE = `
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
return released
`;

// KEYS[1] global counter, then per entry: config, rev, deflated piece, org stamp, project stamp,
// key stamp; and finally the claim keys. ARGV: startedAt, ttl, claim token ('' = none), entry
// count, then per entry json, rev ('' = none) and piece. Returns a 0/1 flag per entry (1 = written).
const WRITE_IF_CURRENT = `
local startedAt = tonumber(ARGV[1])
local ttl, token, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local flags = {}
for i = 1, n do
  local base = 1 + 6 * (i - 1)
  local arg = 4 + 3 * (i - 1)
  local current = true
  for s = 4, 6 do
    local stamp = redis.call('GET', KEYS[base + s])
    if stamp and tonumber(stamp) > startedAt then current = false end
  end
  if current then
    redis.call('SET', KEYS[base + 1], ARGV[arg + 1], 'EX', ttl)
    local rev = ARGV[arg + 2]
    if rev ~= '' then redis.call('SET', KEYS[base + 2], rev, 'EX', ttl) else redis.call('DEL', KEYS[base + 2]) end
    redis.call('SET', KEYS[base + 3], ARGV[arg + 3], 'EX', ttl)
    flags[i] = 1
  else
    flags[i] = 0
  end
end
if token ~= '' then
  for k = 2 + 6 * n, #KEYS do
    if redis.call('GET', KEYS[k]) == token then redis.call('DEL', KEYS[k]) end
  end
end
return flags
`;

// KEYS: per key its config, rev and deflated piece. ARGV: the disabled JSON, then per key its
// disabled piece.
const DISABLE_CACHED = `
local n = 0
for i = 1, #KEYS, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('SET', KEYS[i], ARGV[1], 'KEEPTTL')
    redis.call('DEL', KEYS[i + 1])
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl > 0 then redis.call('SET', KEYS[i + 2], ARGV[2 + (i - 1) / 3], 'PX', ttl) else redis.call('DEL', KEYS[i + 2]) end
    n = n + 1
  end
end
return n
`;

interface CacheCommands {
  relayClaimMissingBuffer(numKeys: number, ...args: string[]): Promise<(Buffer | number)[]>;
  relayReleaseClaims(numKeys: number, ...args: string[]): Promise<number>;
  relayWriteIfCurrent(numKeys: number, ...args: (string | number | Buffer)[]): Promise<number[]>;
  relayDisableCached(numKeys: number, ...args: (string | Buffer)[]): Promise<number>;
}

// defineCommand('x') also defines 'xBuffer', which replies with Buffers instead of strings.
const SCRIPTS = { relayClaimMissing: CLAIM_MISSING, relayReleaseClaims: RELEASE, relayWriteIfCurrent: WRITE_IF_CURRENT, relayDisableCached: DISABLE_CACHED };

function withCommands(redis: Redis): Redis & CacheCommands {
  for (const [name, lua] of Object.entries(SCRIPTS)) if (!(name in redis)) redis.defineCommand(name, { lua });
  return redis as Redis & CacheCommands;
}

export interface ProjectConfigCacheOptions {
  claimTtlS: number;
}

/** The stored piece of `{"disabled":true}`, computed once. */
/**
 * The stored piece of one entry of a reply's `configs` map: `"<publicKey>":<config JSON>`, so the
 * key is compressed with the config (it recurs inside it) instead of travelling as plain glue.
 */
export function replyEntryPiece(publicKey: string, json: string): Buffer {
  return encodePiece(deflatePiece(Buffer.from(`"${publicKey}":${json}`)));
}

export function createRedisProjectConfigCache(redis: Redis, layout: RedisLayout, options: ProjectConfigCacheOptions): ProjectConfigCache {
  const r = withCommands(redis);
  const claimTtlMs = String(options.claimTtlS * 1000);
  return {
    async generation() {
      const value = await redis.get(layout.generation);
      return value === null ? 0 : Number(value);
    },

    /**
     * The common cases need no script: one MGET of revs for keys sent with a revision, one MGET
     * answers cached keys, a third finds keys whose build is already in flight (Relay re-polls
     * pending keys every 100 ms); only the rest go through the script, which checks the cache
     * again, so a key written in between is answered, not claimed.
     */
    async lookupOrClaim(publicKeys, revisions, token, lookup = {}) {
      const results = new Array<LookupResult | undefined>(publicKeys.length);
      let wanted = publicKeys.map((_, i) => i);
      if (revisions.some((rev) => rev !== null && rev !== undefined)) {
        const withRev = wanted.filter((i) => revisions[i]);
        const revs = await redis.mget(withRev.map((i) => layout.rev(publicKeys[i])));
        withRev.forEach((i, j) => {
          if (revs[j] === revisions[i]) results[i] = { status: 'unchanged' };
        });
        wanted = wanted.filter((i) => results[i] === undefined);
      }
      if (wanted.length === 0) return results as LookupResult[];
      if (lookup.deflated) {
        const pieces = await redis.mgetBuffer(wanted.map((i) => layout.deflated(publicKeys[i])));
        wanted = wanted.filter((i, j) => {
          const piece = pieces[j] ? decodePiece(pieces[j]) : null;
          if (piece) results[i] = { status: 'cached-deflated', piece };
          return !piece;
        });
        if (wanted.length === 0) return results as LookupResult[];
      }
      const configs = await redis.mgetBuffer(wanted.map((i) => layout.config(publicKeys[i])));
      const missing: number[] = [];
      wanted.forEach((i, j) => {
        const config = configs[j];
        if (config) results[i] = { status: 'cached', json: config };
        else missing.push(i);
      });
      if (missing.length === 0) return results as LookupResult[];
      const holders = await redis.mget(missing.map((i) => layout.claim(publicKeys[i])));
      const unclaimed = missing.filter((i, j) => {
        if (holders[j] === null) return true;
        results[i] = { status: 'in-flight' };
        return false;
      });
      if (unclaimed.length > 0) {
        const claimKeys = unclaimed.flatMap((i) => [layout.config(publicKeys[i]), layout.claim(publicKeys[i])]);
        const replies = await r.relayClaimMissingBuffer(claimKeys.length, ...claimKeys, token, claimTtlMs);
        unclaimed.forEach((i, j) => {
          const reply = replies[j];
          results[i] = Buffer.isBuffer(reply) ? { status: 'cached', json: reply } : reply === 2 ? { status: 'claimed' } : { status: 'in-flight' };
        });
      }
      return results as LookupResult[];
    },

    async releaseClaims(publicKeys, token) {
      if (publicKeys.length === 0) return 0;
      return r.relayReleaseClaims(publicKeys.length, ...publicKeys.map((publicKey) => layout.claim(publicKey)), token);
    },

    async writeIfCurrent(entries, startedAt, ttlS, claimToken) {
      if (entries.length === 0) return { written: [], refused: [] };
      const keys: string[] = [layout.generation];
      const args: (string | number | Buffer)[] = [startedAt, ttlS, claimToken ?? '', entries.length];
      for (const e of entries) {
        keys.push(layout.config(e.publicKey), layout.rev(e.publicKey), layout.deflated(e.publicKey), layout.stamp.organization(e.organizationId), layout.stamp.project(e.projectId), layout.stamp.key(e.publicKey));
        // Compressed once here, so no reply ever compresses a config.
        args.push(e.json, e.rev ?? '', replyEntryPiece(e.publicKey, e.json));
      }
      if (claimToken) for (const e of entries) keys.push(layout.claim(e.publicKey));
      const flags = await r.relayWriteIfCurrent(keys.length, ...keys, ...args);
      const written: string[] = [];
      const refused: string[] = [];
      entries.forEach((e, i) => (flags[i] === 1 ? written : refused).push(e.publicKey));
      return { written, refused };
    },

    async disableCached(publicKeys) {
      if (publicKeys.length === 0) return 0;
      return r.relayDisableCached(publicKeys.length * 3, ...publicKeys.flatMap((pk) => [layout.config(pk), layout.rev(pk), layout.deflated(pk)]), DISABLED_JSON, ...publicKeys.map((pk) => replyEntryPiece(pk, DISABLED_JSON)));
    },

    async delete(publicKeys) {
      if (publicKeys.length === 0) return;
      await redis.del(...publicKeys.flatMap((publicKey) => [layout.config(publicKey), layout.rev(publicKey), layout.deflated(publicKey)]));
    },

    async peek(publicKeys) {
      const found = new Map<string, string>();
      if (publicKeys.length === 0) return found;
      const values = await redis.mget(publicKeys.map((publicKey) => layout.config(publicKey)));
      publicKeys.forEach((publicKey, i) => {
        const value = values[i];
        if (typeof value === 'string') found.set(publicKey, value);
      });
      return found;
    },

    async cachedKeys(publicKeys) {
      const cached = new Set<string>();
      if (publicKeys.length === 0) return cached;
      const pipeline = redis.pipeline();
      for (const publicKey of publicKeys) pipeline.exists(layout.config(publicKey));
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
