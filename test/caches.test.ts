import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBuildClaims } from '../src/caches/build-claims';
import { createConfigGenerations, DISABLED_JSON } from '../src/caches/config-generations';
import { createRedisProjectConfigCache, type ProjectConfigCache } from '../src/caches/project-config-cache';
import { createRequestPathRedis, deleteKeysWithPrefix, redisKeys, type Redis } from '../src/caches/redis';
import { testSettings, uniquePrefix } from './support/harness';

let redis: Redis;
const prefixes: string[] = [];
/** A fresh key layout; its keys are deleted after the file's tests. */
const freshKeys = () => {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return redisKeys(prefix);
};

beforeAll(async () => {
  redis = createRequestPathRedis(testSettings(), 'caches-test');
  await new Promise((resolve) => redis.once('ready', resolve));
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
});

const key = (n: number) => n.toString(16).padStart(32, '0');

/** The contract of ProjectConfigCache (see its TSDoc); every implementation must pass it. */
function projectConfigCacheContract(name: string, make: () => ProjectConfigCache) {
  describe(`ProjectConfigCache contract: ${name}`, () => {
    it('returns exactly the stored text, and nothing for absent keys', async () => {
      const cache = make();
      const json = '{"disabled":false,"rev":"r1","config":{"x":"ü"}}';
      await cache.setMany([{ publicKey: key(1), json, rev: 'r1' }], 60);
      const got = await cache.getMany([key(1), key(2)]);
      expect([...got]).toEqual([[key(1), json]]);
    });

    it('stores a rev with its config and leaves none for a disabled config', async () => {
      const cache = make();
      await cache.setMany([{ publicKey: key(3), json: '{"rev":"r3"}', rev: 'r3' }], 60);
      expect(await cache.getRevs([key(3)])).toEqual(new Map([[key(3), 'r3']]));
      await cache.setMany([{ publicKey: key(3), json: DISABLED_JSON, rev: null }], 60);
      expect(await cache.getRevs([key(3)])).toEqual(new Map());
    });

    it('reports cached keys and deletes config and rev together', async () => {
      const cache = make();
      await cache.setMany([{ publicKey: key(4), json: '{}', rev: 'r4' }, { publicKey: key(5), json: '{}', rev: 'r5' }], 60);
      expect(await cache.cachedKeys([key(4), key(5), key(6)])).toEqual(new Set([key(4), key(5)]));
      await cache.deleteMany([key(4)]);
      expect(await cache.cachedKeys([key(4), key(5)])).toEqual(new Set([key(5)]));
      expect(await cache.getRevs([key(4)])).toEqual(new Map());
    });

    it('lets entries expire with the TTL', async () => {
      const cache = make();
      await cache.setMany([{ publicKey: key(7), json: '{}', rev: 'r7' }], 1);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await cache.getMany([key(7)])).size).toBe(0);
    });
  });
}

projectConfigCacheContract('Redis', () => createRedisProjectConfigCache(redis, freshKeys()));

describe('build claims', () => {
  it('claims a missing key once across requests, and answers it from the cache after the write', async () => {
    const keys = freshKeys();
    const claims = createBuildClaims(redis, keys, 10);
    const cache = createRedisProjectConfigCache(redis, keys);
    expect(await claims.lookupOrClaim([key(1)], [null], 'a')).toEqual([{ status: 'claimed' }]);
    expect(await claims.lookupOrClaim([key(1)], [null], 'b')).toEqual([{ status: 'in-flight' }]);
    await cache.setMany([{ publicKey: key(1), json: '{"rev":"x"}', rev: 'x' }], 60);
    const stored = { status: 'cached', json: Buffer.from('{"rev":"x"}') };
    expect(await claims.lookupOrClaim([key(1)], [null], 'c')).toEqual([stored]);
    expect(await claims.lookupOrClaim([key(1)], ['x'], 'c')).toEqual([{ status: 'unchanged' }]);
    expect(await claims.lookupOrClaim([key(1)], ['y'], 'c')).toEqual([stored]);
    // Mixed: one unchanged, one served, one claimed by someone else, one newly claimed.
    await claims.lookupOrClaim([key(2)], [null], 'other');
    expect(await claims.lookupOrClaim([key(1), key(2), key(3)], ['x', null, null], 'd')).toEqual([
      { status: 'unchanged' },
      { status: 'in-flight' },
      { status: 'claimed' },
    ]);
  });

  it('releases only the claims its token holds', async () => {
    const keys = freshKeys();
    const claims = createBuildClaims(redis, keys, 10);
    await claims.lookupOrClaim([key(1)], [null], 'mine');
    await claims.lookupOrClaim([key(2)], [null], 'theirs');
    expect(await claims.release([key(1), key(2)], 'mine')).toBe(1);
    expect(await claims.lookupOrClaim([key(1), key(2)], [null, null], 'next')).toEqual([{ status: 'claimed' }, { status: 'in-flight' }]);
  });

  it('lets a claim expire so a stranded key is scheduled again', async () => {
    const keys = freshKeys();
    const claims = createBuildClaims(redis, keys, 1);
    await claims.lookupOrClaim([key(1)], [null], 'crashed');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await claims.lookupOrClaim([key(1)], [null], 'retry')).toEqual([{ status: 'claimed' }]);
  });
});

describe('config generations', () => {
  const entry = (publicKey: string, orgId: number | null, projectId: number | null) => ({ publicKey, json: `{"for":"${publicKey}"}`, rev: 'r', organizationId: orgId, projectId });

  it('refuses a write whose organization, project or key changed after the reading, and releases the claims after writing', async () => {
    const keys = freshKeys();
    const generations = createConfigGenerations(redis, keys, { markerTtlMs: 60_000 });
    const claims = createBuildClaims(redis, keys, 10);
    const cache = createRedisProjectConfigCache(redis, keys);
    await claims.lookupOrClaim([key(1), key(2), key(3), key(4)], [null, null, null, null], 'job');
    const startedAt = await generations.current();
    await generations.recordChange({ scope: 'organization', organizationId: 1 });
    await generations.recordChange({ scope: 'project', organizationId: 2, projectId: 20 });
    await generations.recordChange({ scope: 'key', organizationId: 3, projectId: 30, publicKey: key(3) });
    const result = await generations.writeIfCurrent([entry(key(1), 1, 10), entry(key(2), 2, 20), entry(key(3), 3, 30), entry(key(4), 4, 40)], startedAt, 60, 'job');
    expect(result).toEqual({ written: [key(4)], refused: [key(1), key(2), key(3)] });
    expect([...(await cache.getMany([key(1), key(2), key(3), key(4)])).keys()]).toEqual([key(4)]);
    // Every claim of the job is released, written or refused: the next poll reschedules the refused ones.
    expect((await claims.lookupOrClaim([key(1), key(2), key(3)], [null, null, null], 'next')).map((r) => r.status)).toEqual(['claimed', 'claimed', 'claimed']);
    // A reading taken after the changes writes fine.
    const later = await generations.current();
    expect((await generations.writeIfCurrent([entry(key(1), 1, 10)], later, 60, null)).written).toEqual([key(1)]);
  });

  it('needs one job per scope until it starts, and none inside a scope whose invalidation is pending', async () => {
    const generations = createConfigGenerations(redis, freshKeys(), { markerTtlMs: 60_000 });
    const org = { scope: 'organization' as const, organizationId: 1 };
    const project = { scope: 'project' as const, organizationId: 1, projectId: 10 };
    const otherProject = { scope: 'project' as const, organizationId: 2, projectId: 20 };
    expect(await generations.recordChange(project)).toBe(true);
    expect(await generations.recordChange(project)).toBe(false);
    expect(await generations.recordChange(org)).toBe(true);
    expect(await generations.recordChange({ scope: 'key', organizationId: 1, projectId: 11, publicKey: key(1) })).toBe(false);
    expect(await generations.recordChange(otherProject)).toBe(true);
    // The project job may skip: the organization job has not started and will load after it.
    expect(await generations.beginInvalidation(project)).toBe(false);
    expect(await generations.beginInvalidation(org)).toBe(true);
    expect(await generations.recordChange(project)).toBe(true);
  });

  it('disables only keys that are cached', async () => {
    const keys = freshKeys();
    const generations = createConfigGenerations(redis, keys, { markerTtlMs: 60_000 });
    const cache = createRedisProjectConfigCache(redis, keys);
    await cache.setMany([{ publicKey: key(1), json: '{"disabled":false}', rev: 'r' }], 60);
    expect(await generations.disableCached([key(1), key(2)])).toBe(1);
    expect([...(await cache.getMany([key(1), key(2)]))]).toEqual([[key(1), DISABLED_JSON]]);
    expect(await cache.getRevs([key(1)])).toEqual(new Map());
  });
});
