import type { Redis, RedisKeys } from './redis';

/**
 * Debounce of builds (DESIGN.md, "Debounce"): at most one build in flight per key across every
 * API process. One Lua script checks the cache and claims the missing keys atomically, so a key
 * is either answered from the cache or claimed by exactly one request.
 *
 * Contract: a false "not claimed by anyone" is harmless (one extra build); a false "claimed"
 * would strand a key, so every claim carries a TTL and expires on its own.
 */

export type LookupResult =
  | { status: 'cached'; json: string }
  | { status: 'unchanged' }
  /** This request took the claim: it must schedule the build. */
  | { status: 'claimed' }
  /** Another request holds the claim: a build is already on its way. */
  | { status: 'in-flight' };

// KEYS: per public key its config, rev and claim key. ARGV: claim token, claim TTL (ms), then per
// key the revision the request carries ('' for none). Replies per key: the config text, or
// 1 = unchanged, 2 = claimed by this call, 0 = claimed by someone else.
const LOOKUP_OR_CLAIM = `
local token, ttl = ARGV[1], ARGV[2]
local out = {}
for i = 1, #KEYS / 3 do
  local configKey, revKey, claimKey = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local rev = ARGV[2 + i]
  if rev ~= '' and redis.call('GET', revKey) == rev and redis.call('EXISTS', configKey) == 1 then
    out[i] = 1
  else
    local config = redis.call('GET', configKey)
    if config then
      out[i] = config
    elseif redis.call('SET', claimKey, token, 'NX', 'PX', ttl) then
      out[i] = 2
    else
      out[i] = 0
    end
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
  relayLookupOrClaim(numKeys: number, ...args: string[]): Promise<(string | number)[]>;
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
  if (!r.relayLookupOrClaim) redis.defineCommand('relayLookupOrClaim', { lua: LOOKUP_OR_CLAIM });
  if (!r.relayReleaseClaims) redis.defineCommand('relayReleaseClaims', { lua: RELEASE });
  return redis as Redis & ClaimCommands;
}

export function createBuildClaims(redis: Redis, keys: RedisKeys, claimTtlS: number): BuildClaims {
  const r = defineCommands(redis);
  const ttlMs = String(claimTtlS * 1000);
  return {
    async lookupOrClaim(publicKeys, revisions, token) {
      if (publicKeys.length === 0) return [];
      const redisKeys = publicKeys.flatMap((pk) => [keys.config(pk), keys.rev(pk), keys.claim(pk)]);
      const revs = publicKeys.map((_, i) => revisions[i] ?? '');
      const replies = await r.relayLookupOrClaim(redisKeys.length, ...redisKeys, token, ttlMs, ...revs);
      return replies.map((reply): LookupResult => {
        if (typeof reply === 'string') return { status: 'cached', json: reply };
        if (reply === 1) return { status: 'unchanged' };
        if (reply === 2) return { status: 'claimed' };
        return { status: 'in-flight' };
      });
    },
    async release(publicKeys, token) {
      if (publicKeys.length === 0) return 0;
      return r.relayReleaseClaims(publicKeys.length, ...publicKeys.map(keys.claim), token);
    },
  };
}
