import type { Redis, RedisKeys } from './redis';

/**
 * "No stale overwrite" (DESIGN.md) and hierarchical de-duplication of invalidations.
 *
 * Every committed change increments one global counter and stamps the changed organization,
 * project or key with the new value (`relayconfig-gen:{o,p,k}:<id>`). A build or invalidation
 * reads the global counter *before* it loads from PostgreSQL and writes each config with a
 * compare-and-set: a key whose organization, project or own stamp is newer than that reading is
 * refused, because the rows it was computed from may predate the change. A refusal is always
 * safe: the change's own invalidation recomputes cached keys, and an uncached key is rebuilt on
 * Relay's next poll.
 *
 * Pending markers (`relayconfig-inv:{o,p,t,k}:<id>`) say "an invalidation of this scope is
 * scheduled and has not started loading yet"; a change inside a scope with a pending marker
 * needs no job of its own. A job removes its marker *before* reading the counter and loading, so
 * a change that saw the marker is always visible to that job.
 */

export type InvalidationScope =
  | { scope: 'organization'; organizationId: number }
  | { scope: 'project'; organizationId: number; projectId: number }
  | { scope: 'template'; organizationId: number; templateId: number }
  | { scope: 'key'; organizationId: number; projectId: number; publicKey: string };

/** How long stamps are kept: far longer than any build or invalidation job runs. */
const STAMP_TTL_S = 24 * 3600;

export const DISABLED_JSON = '{"disabled":true}';

export interface ConfigWriteEntry {
  publicKey: string;
  json: string;
  rev: string | null;
  /** Null for keys that were not found (their own stamp still guards them). */
  organizationId: number | null;
  projectId: number | null;
}

export interface ConfigGenerations {
  /** The global change counter; read it before loading rows from PostgreSQL. */
  current(): Promise<number>;
  /**
   * Writes each config unless its organization, project or key changed after `startedAt`, then
   * releases the build claims `claimToken` still holds (after the writes, never before).
   */
  writeIfCurrent(entries: readonly ConfigWriteEntry[], startedAt: number, ttlS: number, claimToken: string | null): Promise<{ written: string[]; refused: string[] }>;
  /**
   * After a commit: stamps the changed scope and reports whether it still needs an invalidation
   * job (false when a pending invalidation of the scope or an enclosing one will see the change).
   */
  recordChange(change: InvalidationScope): Promise<boolean>;
  /** At the start of an invalidation job: clears its marker; false when an enclosing invalidation is still pending. */
  beginInvalidation(change: InvalidationScope): Promise<boolean>;
  /** Overwrites the cached configs of these keys with `{"disabled":true}` (keys not cached stay absent). */
  disableCached(publicKeys: readonly string[]): Promise<number>;
}

// KEYS[1] global counter, then per entry: config, rev, org stamp, project stamp, key stamp; and
// finally the claim keys. ARGV: startedAt, ttl, claim token ('' = none), entry count, then per
// entry json and rev ('' = none). Returns a 0/1 flag per entry (1 = written).
const WRITE_IF_CURRENT = `
local startedAt = tonumber(ARGV[1])
local ttl, token, n = ARGV[2], ARGV[3], tonumber(ARGV[4])
local flags = {}
for i = 1, n do
  local base = 1 + 5 * (i - 1)
  local current = true
  for s = 3, 5 do
    local stamp = redis.call('GET', KEYS[base + s])
    if stamp and tonumber(stamp) > startedAt then current = false end
  end
  if current then
    redis.call('SET', KEYS[base + 1], ARGV[3 + 2 * i], 'EX', ttl)
    local rev = ARGV[4 + 2 * i]
    if rev ~= '' then redis.call('SET', KEYS[base + 2], rev, 'EX', ttl) else redis.call('DEL', KEYS[base + 2]) end
    flags[i] = 1
  else
    flags[i] = 0
  end
end
if token ~= '' then
  for k = 2 + 5 * n, #KEYS do
    if redis.call('GET', KEYS[k]) == token then redis.call('DEL', KEYS[k]) end
  end
end
return flags
`;

// KEYS[1] global counter, KEYS[2] the stamp to set, KEYS[3] own marker, KEYS[4..] enclosing
// markers. ARGV: stamp TTL (s), marker TTL (ms). Returns 1 when a job must be scheduled.
const RECORD_CHANGE = `
local generation = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], generation, 'EX', ARGV[1])
for k = 3, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then return 0 end
end
redis.call('SET', KEYS[3], generation, 'PX', ARGV[2])
return 1
`;

// KEYS[1] own marker, KEYS[2..] enclosing markers. Returns 1 when the job must run.
const BEGIN_INVALIDATION = `
redis.call('DEL', KEYS[1])
for k = 2, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then return 0 end
end
return 1
`;

// KEYS: per key its config and rev. ARGV[1]: the disabled JSON.
const DISABLE_CACHED = `
local n = 0
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('SET', KEYS[i], ARGV[1], 'KEEPTTL')
    redis.call('DEL', KEYS[i + 1])
    n = n + 1
  end
end
return n
`;

interface GenerationCommands {
  relayWriteIfCurrent(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  relayRecordChange(numKeys: number, ...args: (string | number)[]): Promise<number>;
  relayBeginInvalidation(numKeys: number, ...args: string[]): Promise<number>;
  relayDisableCached(numKeys: number, ...args: string[]): Promise<number>;
}

const SCRIPTS: Record<keyof GenerationCommands, string> = {
  relayWriteIfCurrent: WRITE_IF_CURRENT,
  relayRecordChange: RECORD_CHANGE,
  relayBeginInvalidation: BEGIN_INVALIDATION,
  relayDisableCached: DISABLE_CACHED,
};

export interface ConfigGenerationsOptions {
  /** How long a pending marker lives if its job never starts (e.g. the add failed). */
  markerTtlMs: number;
}

export function createConfigGenerations(redis: Redis, keys: RedisKeys, options: ConfigGenerationsOptions): ConfigGenerations {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, { lua });
  }
  const r = redis as Redis & GenerationCommands;
  const globalKey = keys.other('relayconfig-gen:global');
  const stamp = {
    organization: (id: number | null) => keys.other(`relayconfig-gen:o:${id ?? 'none'}`),
    project: (id: number | null) => keys.other(`relayconfig-gen:p:${id ?? 'none'}`),
    key: (publicKey: string) => keys.other(`relayconfig-gen:k:${publicKey}`),
  };
  const marker = {
    organization: (id: number) => keys.other(`relayconfig-inv:o:${id}`),
    project: (id: number) => keys.other(`relayconfig-inv:p:${id}`),
    template: (id: number) => keys.other(`relayconfig-inv:t:${id}`),
    key: (publicKey: string) => keys.other(`relayconfig-inv:k:${publicKey}`),
  };

  /** The stamp a change sets, its own marker, and the markers of the scopes that enclose it. */
  function layout(change: InvalidationScope): { stamp: string; own: string; enclosing: string[] } {
    const org = marker.organization(change.organizationId);
    switch (change.scope) {
      case 'organization':
        return { stamp: stamp.organization(change.organizationId), own: org, enclosing: [] };
      case 'project':
        return { stamp: stamp.project(change.projectId), own: marker.project(change.projectId), enclosing: [org] };
      case 'template':
        // Which projects use the template is only known to the job, so the whole organization is stamped.
        return { stamp: stamp.organization(change.organizationId), own: marker.template(change.templateId), enclosing: [org] };
      case 'key':
        return { stamp: stamp.key(change.publicKey), own: marker.key(change.publicKey), enclosing: [marker.project(change.projectId), org] };
    }
  }

  return {
    async current() {
      const value = await redis.get(globalKey);
      return value === null ? 0 : Number(value);
    },

    async writeIfCurrent(entries, startedAt, ttlS, claimToken) {
      if (entries.length === 0) return { written: [], refused: [] };
      const redisKeys: string[] = [globalKey];
      const args: (string | number)[] = [startedAt, ttlS, claimToken ?? '', entries.length];
      for (const e of entries) {
        redisKeys.push(keys.config(e.publicKey), keys.rev(e.publicKey), stamp.organization(e.organizationId), stamp.project(e.projectId), stamp.key(e.publicKey));
        args.push(e.json, e.rev ?? '');
      }
      if (claimToken) for (const e of entries) redisKeys.push(keys.claim(e.publicKey));
      const flags = await r.relayWriteIfCurrent(redisKeys.length, ...redisKeys, ...args);
      const written: string[] = [];
      const refused: string[] = [];
      entries.forEach((e, i) => (flags[i] === 1 ? written : refused).push(e.publicKey));
      return { written, refused };
    },

    async recordChange(change) {
      const { stamp: stampKey, own, enclosing } = layout(change);
      const result = await r.relayRecordChange(3 + enclosing.length, globalKey, stampKey, own, ...enclosing, STAMP_TTL_S, options.markerTtlMs);
      return result === 1;
    },

    async beginInvalidation(change) {
      const { own, enclosing } = layout(change);
      return (await r.relayBeginInvalidation(1 + enclosing.length, own, ...enclosing)) === 1;
    },

    async disableCached(publicKeys) {
      if (publicKeys.length === 0) return 0;
      return r.relayDisableCached(publicKeys.length * 2, ...publicKeys.flatMap((pk) => [keys.config(pk), keys.rev(pk)]), DISABLED_JSON);
    },
  };
}
