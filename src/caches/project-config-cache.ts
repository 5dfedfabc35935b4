import { decodePiece, deflatePiece, deflateSegmentedPiece, encodePiece, type DeflatedPiece } from './gzip-splice';
import type { SharedSpan } from '../relay-config/serialize';
import type { RedisLayout } from './layout';
import { clusterGetMany, isCluster, type RedisClient } from './redis';

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
 *   invalidation recomputes cached keys, and Relay's next poll rebuilds uncached ones. On a
 *   Redis Cluster the guard is per key instead (below): a write is refused when the stored config,
 *   or an invalidation's mark, is from a newer generation.
 * - `disableCached` turns cached configs into `{"disabled":true}` at once; uncached keys stay absent.
 * - Every config written has its pre-compressed reply entry (`"<publicKey>":<config>`) beside it (same TTL, same bytes once
 *   inflated); a reader that finds a config without one (written by an older version) gets the
 *   plain bytes instead and may compress them itself.
 * - `cachedKeys` tells which keys have a config now; a config may expire at any moment after.
 * - `invalidationTargets` tells which keys an invalidation must recompute: the cached ones, and on
 *   a cluster also the claimed ones; there it marks the others with the invalidation's reading
 *   (see "On a Redis Cluster" below).
 * - `peek` returns the stored text of cached keys and writes nothing.
 * - `delete` removes config and rev together.
 */
export interface ProjectConfigCache {
  /** The global change counter; read it before loading rows from PostgreSQL. */
  generation(): Promise<number>;
  /**
   * With `deflated`, cached configs are answered by their pre-compressed pieces (for a gzip reply);
   * with `withoutBytes` (a reply over the reply budget), cached configs are only found, not read
   * (`held-back`), while missing ones are claimed as always.
   */
  lookupOrClaim(publicKeys: readonly string[], revisions: readonly (string | null)[], token: string, options?: { deflated?: boolean; withoutBytes?: boolean }): Promise<LookupResult[]>;
  /** Releases the claims `token` still holds (another holder's claims stay). */
  releaseClaims(publicKeys: readonly string[], token: string): Promise<number>;
  writeIfCurrent(entries: readonly ConfigWriteEntry[], startedAt: number, ttlS: number, claimToken: string | null): Promise<{ written: string[]; refused: string[] }>;
  disableCached(publicKeys: readonly string[]): Promise<number>;
  cachedKeys(publicKeys: readonly string[]): Promise<Set<string>>;
  /**
   * The keys an invalidation recomputes (cached; on a cluster, cached or claimed, and every other
   * key is marked as computed at `startedAt`, so an older write is refused).
   */
  invalidationTargets(publicKeys: readonly string[], startedAt: number): Promise<Set<string>>;
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
  /** Cached, but not read (`withoutBytes`): the reply lists it as pending and Relay asks again. */
  | { status: 'held-back' }
  /** This request took the claim: it must schedule the build. */
  | { status: 'claimed' }
  /** Another request holds the claim: a build is already on its way. */
  | { status: 'in-flight' };

export const DISABLED_JSON = '{"disabled":true}';

export interface ConfigWriteEntry {
  publicKey: string;
  json: string;
  /** Where `json` holds longer shared texts (stringifyConfigWithSpans); their pieces are stored apart. */
  shared?: readonly SharedSpan[];
  /** The config's `rev`; null for `{"disabled":true}`. */
  rev: string | null;
  /** Null for keys that were not found (their own stamp still guards them). */
  organizationId: number | null;
  projectId: number | null;
}

// KEYS: per public key its config and claim key. ARGV: claim token, claim TTL (ms), and `presence`
// to only find configs, not read them. Replies per key: the config bytes (with `presence`: 1 = it
// is there), or 2 = claimed by this call, 0 = claimed by someone else.
const CLAIM_MISSING = `
local token, ttl, presence = ARGV[1], ARGV[2], ARGV[3] == 'presence'
local out = {}
for i = 1, #KEYS / 2 do
  local found
  if presence then found = redis.call('EXISTS', KEYS[2 * i - 1]) == 1 and 1 else found = redis.call('GET', KEYS[2 * i - 1]) end
  if found then
    out[i] = found
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
// key stamp, legacy piece (deleted); and finally the claim keys. ARGV: startedAt, ttl, claim token ('' = none), entry
// count, then per entry json, rev ('' = none) and piece. Returns a 0/1 flag per entry (1 = written).
const WRITE_IF_CURRENT = `
local startedAt = tonumber(ARGV[1])
local ttl, token, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local flags = {}
for i = 1, n do
  local base = 1 + 7 * (i - 1)
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
    redis.call('DEL', KEYS[base + 7])
    flags[i] = 1
  else
    flags[i] = 0
  end
end
if token ~= '' then
  for k = 2 + 7 * n, #KEYS do
    if redis.call('GET', KEYS[k]) == token then redis.call('DEL', KEYS[k]) end
  end
end
return flags
`;

/*
 * On a Redis Cluster no script may read the organization and project stamps beside a config
 * key (other slots), so the guard there is per key (DESIGN.md, "Redis Cluster"):
 * - each config is stored with the generation it was computed from (`computedAt`, in its slot),
 *   and a write computed from an older generation than the stored one is refused;
 * - an invalidation, in one script per key, either finds the key cached or claimed (and
 *   recomputes it) or sets its `computedAt` to the invalidation's reading (a mark, no config).
 * Why that suffices: take the last change of a key, committed before its invalidation J reads the
 * counter (g). A stale writer W loaded before the commit, so it read a counter < g. If W writes
 * before J's script, J finds the key cached and its write (g) replaces W's; if after, W finds g
 * or newer stored — J's config or J's mark — and is refused. Marks live an hour, far longer than
 * any build runs.
 * The `.rev` key (another slot) is written after its config, guarded the same way by its own
 * companion, so revs and configs end up from the same write.
 */

// KEYS: config, deflated piece, computedAt, claim, legacy piece. ARGV: generation, rev ('' = none), ttl, claim
// token ('' = none), json, piece. Returns 1 when written. Releases the token's claim either way.
const WRITE_KEY = `
local gen, rev, ttl, token = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local ok = true
local stored = redis.call('GET', KEYS[3])
if stored then
  local sep = string.find(stored, ' ', 1, true)
  local sgen, srev = tonumber(string.sub(stored, 1, sep - 1)), string.sub(stored, sep + 1)
  if sgen > gen or (sgen == gen and srev > rev) then ok = false end
end
if token ~= '' and redis.call('GET', KEYS[4]) == token then redis.call('DEL', KEYS[4]) end
if not ok then return 0 end
redis.call('SET', KEYS[1], ARGV[5], 'EX', ttl)
redis.call('SET', KEYS[2], ARGV[6], 'EX', ttl)
redis.call('DEL', KEYS[5])
redis.call('SET', KEYS[3], ARGV[1] .. ' ' .. rev, 'EX', ttl)
return 1
`;

// KEYS: config, claim, computedAt. ARGV: the invalidation's reading, mark TTL (s). 1 = recompute
// (cached or claimed); otherwise the key is marked, unless something newer is stored.
const TARGET_OR_MARK = `
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 1 end
local stored = redis.call('GET', KEYS[3])
if stored and tonumber(string.sub(stored, 1, string.find(stored, ' ', 1, true) - 1)) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[3], ARGV[1] .. ' ', 'EX', ARGV[2])
return 0
`;

/** How long an invalidation's mark on an uncached key refuses older writes. */
const MARK_TTL_S = 3600;

// KEYS: rev, its computedAt. ARGV: generation, rev ('' = none), ttl. Same order as WRITE_KEY.
const WRITE_REV = `
local gen, rev = tonumber(ARGV[1]), ARGV[2]
local stored = redis.call('GET', KEYS[2])
if stored then
  local sep = string.find(stored, ' ', 1, true)
  local sgen, srev = tonumber(string.sub(stored, 1, sep - 1)), string.sub(stored, sep + 1)
  if sgen > gen or (sgen == gen and srev > rev) then return 0 end
end
if rev ~= '' then redis.call('SET', KEYS[1], rev, 'EX', ARGV[3]) else redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. rev, 'EX', ARGV[3])
return 1
`;

// KEYS: config, deflated piece, legacy piece (one slot). ARGV: the disabled JSON and its piece. 1 = disabled.
const DISABLE_ONE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
redis.call('DEL', KEYS[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl) else redis.call('DEL', KEYS[2]) end
return 1
`;

// KEYS: per key its config, rev, deflated piece and legacy piece. ARGV: the disabled JSON, then
// per key its disabled piece.
const DISABLE_CACHED = `
local n = 0
for i = 1, #KEYS, 4 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('SET', KEYS[i], ARGV[1], 'KEEPTTL')
    redis.call('DEL', KEYS[i + 1], KEYS[i + 3])
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl > 0 then redis.call('SET', KEYS[i + 2], ARGV[2 + (i - 1) / 4], 'PX', ttl) else redis.call('DEL', KEYS[i + 2]) end
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
  relayWriteKey(numKeys: number, ...args: (string | number | Buffer)[]): Promise<number>;
  relayWriteRev(numKeys: number, ...args: (string | number)[]): Promise<number>;
  relayDisableOne(numKeys: number, ...args: (string | Buffer)[]): Promise<number>;
  relayTargetOrMark(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

// defineCommand('x') also defines 'xBuffer', which replies with Buffers instead of strings.
const SCRIPTS = { relayClaimMissing: CLAIM_MISSING, relayReleaseClaims: RELEASE, relayWriteIfCurrent: WRITE_IF_CURRENT, relayDisableCached: DISABLE_CACHED,
  relayWriteKey: WRITE_KEY,
  relayWriteRev: WRITE_REV,
  relayDisableOne: DISABLE_ONE,
  relayTargetOrMark: TARGET_OR_MARK,
};

function withCommands(redis: RedisClient): RedisClient & CacheCommands {
  for (const [name, lua] of Object.entries(SCRIPTS)) if (!(name in redis)) redis.defineCommand(name, { lua });
  return redis as RedisClient & CacheCommands;
}

export interface ProjectConfigCacheOptions {
  claimTtlS: number;
}

/**
 * The stored piece of one entry of a reply's `configs` map: `"<publicKey>":<config JSON>`, so the
 * key is compressed with the config (it recurs inside it) instead of travelling as plain glue.
 */
export function replyEntryPiece(publicKey: string, json: string): Buffer {
  return storedForms(publicKey, json, []).piece;
}

/*
 * Writers of this version set a config and its entry together and delete the older versions'
 * entry key; a process of an older version (a rolling upgrade) writes the config and that older
 * key, never this one. So an entry is current only while the older key is absent: a reader takes
 * the entry only then (both keys are in the config's slot, read in one round trip).
 */

/** The piece of a stored entry, unless the older versions' entry key (`legacy`) says it is stale. */
export function currentPiece(stored: Buffer, legacy: Buffer | null): DeflatedPiece | null {
  return legacy === null ? decodePiece(stored) : null;
}

/**
 * What is stored for one config: its bytes and its reply entry's piece. The config bytes are a
 * view into the entry's own encoding, so a config is turned into UTF-8 once, not twice.
 */
function storedForms(publicKey: string, json: string, shared: readonly SharedSpan[]): { config: Buffer; piece: Buffer } {
  const head = `"${publicKey}":`;
  const entry = Buffer.from(head + json);
  const headBytes = Buffer.byteLength(head);
  let piece: DeflatedPiece;
  if (shared.length === 0) piece = deflatePiece(entry);
  else {
    // Spans are UTF-16 offsets into the JSON; they are byte offsets too when the text is ASCII.
    const ascii = entry.length === headBytes + json.length;
    piece = deflateSegmentedPiece(
      entry,
      shared.map((span) => ({ offset: headBytes + (ascii ? span.start : Buffer.byteLength(json.slice(0, span.start))), text: span.text })),
    );
  }
  return { config: entry.subarray(headBytes), piece: encodePiece(piece) };
}

/**
 * Entries per write command. Redis runs one command at a time, and every Relay's poll waits
 * behind a running script: a 500-key job as one script (~7 MiB of arguments) held Redis for a
 * median 15 ms, 64 entries hold it for ~2 ms. In chunks, too, the next chunk is compressed while
 * the previous one is on its way, and at most two chunks' stored forms (~15 KiB per entry) are
 * alive. Each entry is guarded by its own stamps, so a chunk is as correct on its own as the
 * whole job was.
 */
export const WRITE_CHUNK_ENTRIES = 64;

/** Runs `write` over `entries` in chunks, the next chunk prepared while the one before is in flight; the flags in entry order. */
async function inWriteChunks<T>(entries: readonly T[], write: (chunk: readonly T[]) => Promise<number[]>): Promise<number[]> {
  const flags: number[] = [];
  let inFlight: Promise<number[]> | null = null;
  for (let start = 0; start < entries.length; start += WRITE_CHUNK_ENTRIES) {
    const sent = write(entries.slice(start, start + WRITE_CHUNK_ENTRIES));
    // Awaited below; until then a failure of this chunk must not count as unhandled.
    sent.catch(() => undefined);
    if (inFlight) flags.push(...(await inFlight));
    inFlight = sent;
  }
  if (inFlight) flags.push(...(await inFlight));
  return flags;
}

export function createRedisProjectConfigCache(redis: RedisClient, layout: RedisLayout, options: ProjectConfigCacheOptions): ProjectConfigCache {
  const r = withCommands(redis);
  const claimTtlMs = String(options.claimTtlS * 1000);
  const cluster = isCluster(redis);
  // MGET needs one slot on a cluster: there, one pipeline of GETs per node, the nodes in parallel.
  const mget = (keys: string[]): Promise<(string | null)[]> => (isCluster(redis) ? clusterGetMany(redis, keys, 'utf8') : redis.mget(keys));
  const mgetBuffer = (keys: string[]): Promise<(Buffer | null)[]> => (isCluster(redis) ? clusterGetMany(redis, keys, 'buffer') : redis.mgetBuffer(keys));
  const cachedKeys = async (publicKeys: readonly string[]): Promise<Set<string>> => {
    const cached = new Set<string>();
    if (publicKeys.length === 0) return cached;
    if (cluster) {
      const found = await Promise.all(publicKeys.map((publicKey) => redis.exists(layout.config(publicKey))));
      publicKeys.forEach((publicKey, i) => found[i] === 1 && cached.add(publicKey));
      return cached;
    }
    const pipeline = redis.pipeline();
    for (const publicKey of publicKeys) pipeline.exists(layout.config(publicKey));
    const results = (await pipeline.exec()) ?? [];
    publicKeys.forEach((publicKey, i) => {
      const [error, exists] = results[i] ?? [];
      if (error) throw error;
      if (exists === 1) cached.add(publicKey);
    });
    return cached;
  };

  /**
   * The claim script on `indices`' keys, results filled in: the config if it is there now (`read`),
   * or only that it is there (`presence`); else the claim, taken (`claimed`) or held by another
   * request (`in-flight`).
   */
  async function claimMissing(publicKeys: readonly string[], indices: number[], token: string, results: (LookupResult | undefined)[], mode: 'read' | 'presence'): Promise<void> {
    if (indices.length === 0) return;
    const pairs = indices.map((i) => [layout.config(publicKeys[i]), layout.claim(publicKeys[i])]);
    // On a cluster, one script per key (its config and claim share a slot).
    const replies = cluster
      ? await Promise.all(pairs.map(async (pair) => (await r.relayClaimMissingBuffer(2, ...pair, token, claimTtlMs, mode))[0]))
      : await r.relayClaimMissingBuffer(pairs.length * 2, ...pairs.flat(), token, claimTtlMs, mode);
    indices.forEach((i, j) => {
      const reply = replies[j];
      results[i] = Buffer.isBuffer(reply) ? { status: 'cached', json: reply } : reply === 1 ? { status: 'held-back' } : reply === 2 ? { status: 'claimed' } : { status: 'in-flight' };
    });
  }

  /** One script for `chunk`: each entry written unless a stamp says its data changed after `startedAt`. */
  function writeChunk(chunk: readonly ConfigWriteEntry[], startedAt: number, ttlS: number, claimToken: string | null): Promise<number[]> {
    const keys: string[] = [layout.generation];
    const args: (string | number | Buffer)[] = [startedAt, ttlS, claimToken ?? '', chunk.length];
    for (const e of chunk) {
      keys.push(
        layout.config(e.publicKey),
        layout.rev(e.publicKey),
        layout.deflated(e.publicKey),
        layout.stamp.organization(e.organizationId),
        layout.stamp.project(e.projectId),
        layout.stamp.key(e.publicKey),
        layout.legacyDeflated(e.publicKey),
      );
      // Compressed once here, so no reply ever compresses a config.
      const stored = storedForms(e.publicKey, e.json, e.shared ?? []);
      args.push(stored.config, e.rev ?? '', stored.piece);
    }
    if (claimToken) for (const e of chunk) keys.push(layout.claim(e.publicKey));
    return r.relayWriteIfCurrent(keys.length, ...keys, ...args);
  }

  /** On a cluster, one script per key (its config, entry and claim share a slot), then the revs of those written. */
  async function writeChunkOnCluster(chunk: readonly ConfigWriteEntry[], startedAt: number, ttlS: number, claimToken: string | null): Promise<number[]> {
    const flags = await Promise.all(
      chunk.map((e) => {
        const stored = storedForms(e.publicKey, e.json, e.shared ?? []);
        return r.relayWriteKey(5, layout.config(e.publicKey), layout.deflated(e.publicKey), layout.computedAt(e.publicKey), layout.claim(e.publicKey), layout.legacyDeflated(e.publicKey), startedAt, e.rev ?? '', ttlS, claimToken ?? '', stored.config, stored.piece);
      }),
    );
    const written = chunk.filter((_, i) => flags[i] === 1);
    await Promise.all(written.map((e) => r.relayWriteRev(2, layout.rev(e.publicKey), layout.revComputedAt(e.publicKey), startedAt, e.rev ?? '', ttlS)));
    return flags;
  }

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
        const revs = await mget(withRev.map((i) => layout.rev(publicKeys[i])));
        withRev.forEach((i, j) => {
          if (revs[j] === revisions[i]) results[i] = { status: 'unchanged' };
        });
        wanted = wanted.filter((i) => results[i] === undefined);
      }
      if (wanted.length === 0) return results as LookupResult[];
      if (lookup.withoutBytes) {
        await claimMissing(publicKeys, wanted, token, results, 'presence');
        return results as LookupResult[];
      }
      if (lookup.deflated) {
        // Each entry with the older versions' entry key, in the same slot: see currentPiece.
        const read = await mgetBuffer(wanted.flatMap((i) => [layout.deflated(publicKeys[i]), layout.legacyDeflated(publicKeys[i])]));
        wanted = wanted.filter((i, j) => {
          const stored = read[2 * j];
          const piece = stored ? currentPiece(stored, read[2 * j + 1]) : null;
          if (piece) results[i] = { status: 'cached-deflated', piece };
          return !piece;
        });
        if (wanted.length === 0) return results as LookupResult[];
      }
      const configs = await mgetBuffer(wanted.map((i) => layout.config(publicKeys[i])));
      const missing: number[] = [];
      wanted.forEach((i, j) => {
        const config = configs[j];
        if (config) results[i] = { status: 'cached', json: config };
        else missing.push(i);
      });
      if (missing.length === 0) return results as LookupResult[];
      const holders = await mget(missing.map((i) => layout.claim(publicKeys[i])));
      const unclaimed = missing.filter((i, j) => {
        if (holders[j] === null) return true;
        results[i] = { status: 'in-flight' };
        return false;
      });
      await claimMissing(publicKeys, unclaimed, token, results, 'read');
      return results as LookupResult[];
    },

    async releaseClaims(publicKeys, token) {
      if (publicKeys.length === 0) return 0;
      if (cluster) return (await Promise.all(publicKeys.map((publicKey) => r.relayReleaseClaims(1, layout.claim(publicKey), token)))).reduce((a, b) => a + b, 0);
      return r.relayReleaseClaims(publicKeys.length, ...publicKeys.map((publicKey) => layout.claim(publicKey)), token);
    },

    async writeIfCurrent(entries, startedAt, ttlS, claimToken) {
      if (entries.length === 0) return { written: [], refused: [] };
      const flags = await inWriteChunks(entries, (chunk) => (cluster ? writeChunkOnCluster(chunk, startedAt, ttlS, claimToken) : writeChunk(chunk, startedAt, ttlS, claimToken)));
      const written: string[] = [];
      const refused: string[] = [];
      entries.forEach((e, i) => (flags[i] === 1 ? written : refused).push(e.publicKey));
      return { written, refused };
    },

    async disableCached(publicKeys) {
      if (publicKeys.length === 0) return 0;
      if (cluster) {
        const flags = await Promise.all(publicKeys.map((pk) => r.relayDisableOne(3, layout.config(pk), layout.deflated(pk), layout.legacyDeflated(pk), DISABLED_JSON, replyEntryPiece(pk, DISABLED_JSON))));
        // A disabled config has no rev (so it is never answered `unchanged`); the rev lives in another slot.
        await Promise.all(publicKeys.filter((_, i) => flags[i] === 1).map((pk) => redis.del(layout.rev(pk))));
        return flags.reduce((a, b) => a + b, 0);
      }
      return r.relayDisableCached(publicKeys.length * 4, ...publicKeys.flatMap((pk) => [layout.config(pk), layout.rev(pk), layout.deflated(pk), layout.legacyDeflated(pk)]), DISABLED_JSON, ...publicKeys.map((pk) => replyEntryPiece(pk, DISABLED_JSON)));
    },

    async delete(publicKeys) {
      if (publicKeys.length === 0) return;
      if (cluster) {
        const keys = publicKeys.flatMap((pk) => [layout.config(pk), layout.deflated(pk), layout.legacyDeflated(pk), layout.computedAt(pk), layout.rev(pk), layout.revComputedAt(pk)]);
        await Promise.all(keys.map((key) => redis.del(key)));
        return;
      }
      await redis.del(...publicKeys.flatMap((publicKey) => [layout.config(publicKey), layout.rev(publicKey), layout.deflated(publicKey), layout.legacyDeflated(publicKey)]));
    },

    async peek(publicKeys) {
      const found = new Map<string, string>();
      if (publicKeys.length === 0) return found;
      const values = await mget(publicKeys.map((publicKey) => layout.config(publicKey)));
      publicKeys.forEach((publicKey, i) => {
        const value = values[i];
        if (typeof value === 'string') found.set(publicKey, value);
      });
      return found;
    },

    cachedKeys,

    async invalidationTargets(publicKeys, startedAt) {
      if (!cluster || publicKeys.length === 0) return cachedKeys(publicKeys);
      const found = await Promise.all(publicKeys.map((pk) => r.relayTargetOrMark(3, layout.config(pk), layout.claim(pk), layout.computedAt(pk), startedAt, MARK_TTL_S)));
      return new Set(publicKeys.filter((_, i) => found[i] === 1));
    },
  };
}
