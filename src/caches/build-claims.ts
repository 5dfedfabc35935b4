import type { Redis, RedisKeys } from './redis';

/**
 * Debounce of builds (DESIGN.md, "Debounce"): at most one build in flight per key across every
 * API process. A key is answered from the cache or claimed by exactly one request: a Lua script
 * checks the cache and takes the claim atomically, per key. The common cases need no script: one
 * MGET answers cached keys, a second one finds the keys whose build is already in flight (Relay's
 * re-polls), and only the rest go through the script — which checks the cache again, so a key
 * written in between is answered, not claimed.
 *
 * Contract: a false "not claimed by anyone" is harmless (one extra build); a false "claimed"
 * would strand a key, so every claim carries a TTL and expires on its own.
 */

export type LookupResult =
  /** The stored config bytes, exactly as written. */
  | { status: 'cached'; json: Buffer }
  | { status: 'unchanged' }
  /** This request took the claim: it must schedule the build. */
  | { status: 'claimed' }
  /** Another request holds the claim: a build is already on its way. */
  | { status: 'in-flight' };

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

interface ClaimCommands {
  relayClaimMissingBuffer(numKeys: number, ...args: string[]): Promise<(Buffer | number)[]>;
  relayReleaseClaims(numKeys: number, ...args: string[]): Promise<number>;
}

export interface BuildClaims {
  /**
   * For each key (aligned with `publicKeys`): its cached config, `unchanged` when `revisions[i]`
   * equals the cached rev, or a claim taken now (or held elsewhere) for a build.
   */
  lookupOrClaim(publicKeys: readonly string[], revisions: readonly (string | null)[], token: string): Promise<LookupResult[]>;
  /** Releases the claims `token` still holds (another holder's claims stay). */
  release(publicKeys: readonly string[], token: string): Promise<number>;
}

function defineCommands(redis: Redis): Redis & ClaimCommands {
  const r = redis as Redis & Partial<ClaimCommands>;
  // defineCommand('x') also defines 'xBuffer', which replies with Buffers instead of strings.
  if (!r.relayClaimMissingBuffer) redis.defineCommand('relayClaimMissing', { lua: CLAIM_MISSING });
  if (!r.relayReleaseClaims) redis.defineCommand('relayReleaseClaims', { lua: RELEASE });
  return redis as Redis & ClaimCommands;
}

export function createBuildClaims(redis: Redis, keys: RedisKeys, claimTtlS: number): BuildClaims {
  const r = defineCommands(redis);
  const ttlMs = String(claimTtlS * 1000);
  return {
    async lookupOrClaim(publicKeys, revisions, token) {
      const results: (LookupResult | undefined)[] = new Array(publicKeys.length);
      // Keys whose revision matches the cached one need no config bytes at all.
      let wanted = publicKeys.map((_, i) => i);
      if (revisions.some((rev) => rev !== null && rev !== undefined)) {
        const withRev = wanted.filter((i) => revisions[i]);
        const revs = await redis.mget(withRev.map((i) => keys.rev(publicKeys[i]!)));
        withRev.forEach((i, j) => {
          if (revs[j] === revisions[i]) results[i] = { status: 'unchanged' };
        });
        wanted = wanted.filter((i) => results[i] === undefined);
      }
      if (wanted.length === 0) return results as LookupResult[];
      const configs = await redis.mgetBuffer(wanted.map((i) => keys.config(publicKeys[i]!)));
      const missing: number[] = [];
      wanted.forEach((i, j) => {
        const config = configs[j];
        if (config) results[i] = { status: 'cached', json: config };
        else missing.push(i);
      });
      if (missing.length === 0) return results as LookupResult[];
      // Relay re-polls pending keys every 100 ms: a key whose build is in flight needs no script.
      const holders = await redis.mget(missing.map((i) => keys.claim(publicKeys[i]!)));
      const unclaimed = missing.filter((i, j) => {
        if (holders[j] === null) return true;
        results[i] = { status: 'in-flight' };
        return false;
      });
      if (unclaimed.length > 0) {
        const claimKeys = unclaimed.flatMap((i) => [keys.config(publicKeys[i]!), keys.claim(publicKeys[i]!)]);
        const replies = await r.relayClaimMissingBuffer(claimKeys.length, ...claimKeys, token, ttlMs);
        unclaimed.forEach((i, j) => {
          const reply = replies[j];
          results[i] = Buffer.isBuffer(reply) ? { status: 'cached', json: reply } : reply === 2 ? { status: 'claimed' } : { status: 'in-flight' };
        });
      }
      return results as LookupResult[];
    },
    async release(publicKeys, token) {
      if (publicKeys.length === 0) return 0;
      return r.relayReleaseClaims(publicKeys.length, ...publicKeys.map(keys.claim), token);
    },
  };
}
