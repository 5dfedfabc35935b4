import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigGenerations } from '../src/caches/config-generations';
import { redisLayout, type RedisLayout } from '../src/caches/layout';
import { createRedisProjectConfigCache, DISABLED_JSON, WRITE_CHUNK_ENTRIES, type ConfigWriteEntry, type ProjectConfigCache } from '../src/caches/project-config-cache';
import { createRequestPathRedis, deleteKeysWithPrefix, type RedisClient } from '../src/caches/redis';
import { GzipSplicer } from '../src/caches/gzip-splice';
import { gunzipSync } from 'node:zlib';
import { testSettings, uniquePrefix } from './support/harness';
import { TcpProxy } from './support/tcp-proxy';

let redis: RedisClient;
const prefixes: string[] = [];
/** A fresh key layout; its keys are deleted after the file's tests. */
const freshLayout = () => {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return redisLayout(prefix);
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
const entry = (publicKey: string, orgId: number | null = 1, projectId: number | null = 10, rev: string | null = 'r'): ConfigWriteEntry => ({
  publicKey,
  json: rev === null ? DISABLED_JSON : `{"for":"${publicKey}","rev":"${rev}"}`,
  rev,
  organizationId: orgId,
  projectId,
});

/** What a processing Relay reads for one key: the config and the rev, by the public names. */
async function relayReads(layout: RedisLayout, publicKey: string): Promise<[string | null, string | null]> {
  return [await redis.get(layout.config(publicKey)), await redis.get(layout.rev(publicKey))];
}

/**
 * The contract of ProjectConfigCache (its TSDoc), over the methods production calls; every
 * implementation must pass it.
 */
function projectConfigCacheContract(name: string, make: (claimTtlS: number) => { cache: ProjectConfigCache; layout: RedisLayout }) {
  describe(`ProjectConfigCache contract: ${name}`, () => {
    it('claims a missing key once across callers, and answers it from the cache after the write, with its bytes unchanged', async () => {
      const { cache } = make(10);
      expect(await cache.lookupOrClaim([key(1)], [null], 'a')).toEqual([{ status: 'claimed' }]);
      expect(await cache.lookupOrClaim([key(1)], [null], 'b')).toEqual([{ status: 'in-flight' }]);
      await cache.writeIfCurrent([entry(key(1), 1, 10, 'x')], await cache.generation(), 60, 'a');
      const stored = { status: 'cached', json: Buffer.from(entry(key(1), 1, 10, 'x').json) };
      expect(await cache.lookupOrClaim([key(1)], [null], 'c')).toEqual([stored]);
      expect(await cache.lookupOrClaim([key(1)], ['x'], 'c')).toEqual([{ status: 'unchanged' }]);
      expect(await cache.lookupOrClaim([key(1)], ['y'], 'c')).toEqual([stored]);
      // Mixed: one unchanged, one claimed by someone else, one newly claimed.
      await cache.lookupOrClaim([key(2)], [null], 'other');
      expect(await cache.lookupOrClaim([key(1), key(2), key(3)], ['x', null, null], 'd')).toEqual([{ status: 'unchanged' }, { status: 'in-flight' }, { status: 'claimed' }]);
    });

    it('writes config and rev under the names a processing Relay reads; a disabled config leaves no rev, so it is never unchanged', async () => {
      const { cache, layout } = make(10);
      await cache.writeIfCurrent([entry(key(1), 1, 10, 'r1')], await cache.generation(), 60, null);
      expect(await relayReads(layout, key(1))).toEqual([entry(key(1), 1, 10, 'r1').json, 'r1']);
      await cache.writeIfCurrent([entry(key(1), 1, 10, null)], await cache.generation(), 60, null);
      expect(await relayReads(layout, key(1))).toEqual([DISABLED_JSON, null]);
      expect(await cache.lookupOrClaim([key(1)], ['r1'], 't')).toEqual([{ status: 'cached', json: Buffer.from(DISABLED_JSON) }]);
    });

    it('without bytes, finds cached keys without reading them (held-back) and claims missing ones as always; unchanged still wins', async () => {
      const { cache } = make(10);
      await cache.writeIfCurrent([entry(key(1), 1, 10, 'x')], await cache.generation(), 60, null);
      await cache.lookupOrClaim([key(2)], [null], 'other');
      const results = await cache.lookupOrClaim([key(1), key(2), key(3), key(1)], [null, null, null, 'x'], 'mine', { withoutBytes: true, deflated: true });
      expect(results).toEqual([{ status: 'held-back' }, { status: 'in-flight' }, { status: 'claimed' }, { status: 'unchanged' }]);
      expect(await cache.releaseClaims([key(3)], 'mine')).toBe(1);
    });

    it('releases only the claims its token holds', async () => {
      const { cache } = make(10);
      await cache.lookupOrClaim([key(1)], [null], 'mine');
      await cache.lookupOrClaim([key(2)], [null], 'theirs');
      expect(await cache.releaseClaims([key(1), key(2)], 'mine')).toBe(1);
      expect(await cache.lookupOrClaim([key(1), key(2)], [null, null], 'next')).toEqual([{ status: 'claimed' }, { status: 'in-flight' }]);
    });

    it('lets a claim expire so a stranded key is scheduled again', async () => {
      const { cache } = make(1);
      await cache.lookupOrClaim([key(1)], [null], 'crashed');
      await new Promise((r) => setTimeout(r, 1100));
      expect(await cache.lookupOrClaim([key(1)], [null], 'retry')).toEqual([{ status: 'claimed' }]);
    });

    it('refuses a write whose organization, project or key changed after the reading, and releases the claims after writing', async () => {
      const { cache, layout } = make(10);
      const generations = createConfigGenerations(redis, layout, { markerTtlMs: 60_000 });
      await cache.lookupOrClaim([key(1), key(2), key(3), key(4)], [null, null, null, null], 'job');
      const startedAt = await cache.generation();
      await generations.recordChange({ scope: 'organization', organizationId: 1 });
      await generations.recordChange({ scope: 'project', organizationId: 2, projectId: 20 });
      await generations.recordChange({ scope: 'key', organizationId: 3, projectId: 30, publicKey: key(3) });
      const result = await cache.writeIfCurrent([entry(key(1), 1, 10), entry(key(2), 2, 20), entry(key(3), 3, 30), entry(key(4), 4, 40)], startedAt, 60, 'job');
      expect(result).toEqual({ written: [key(4)], refused: [key(1), key(2), key(3)] });
      expect(await cache.cachedKeys([key(1), key(2), key(3), key(4)])).toEqual(new Set([key(4)]));
      // Every claim of the job is released, written or refused: the next poll reschedules the refused ones.
      expect((await cache.lookupOrClaim([key(1), key(2), key(3)], [null, null, null], 'next')).map((r) => r.status)).toEqual(['claimed', 'claimed', 'claimed']);
      // A reading taken after the changes writes fine.
      expect((await cache.writeIfCurrent([entry(key(1), 1, 10)], await cache.generation(), 60, null)).written).toEqual([key(1)]);
    });

    it('writes a job larger than one write command in chunks: flags in entry order, refusals in every chunk, every claim released', async () => {
      const { cache, layout } = make(10);
      const generations = createConfigGenerations(redis, layout, { markerTtlMs: 60_000 });
      const count = WRITE_CHUNK_ENTRIES * 2 + 5;
      const keys = Array.from({ length: count }, (_, i) => key(1000 + i));
      // Every seventh key belongs to project 20, which changes after the reading: refused wherever it sits.
      const projectOf = (i: number) => (i % 7 === 3 ? 20 : 10);
      await cache.lookupOrClaim(keys, keys.map(() => null), 'big-job');
      const startedAt = await cache.generation();
      await generations.recordChange({ scope: 'project', organizationId: 1, projectId: 20 });
      const entries = keys.map((publicKey, i) => entry(publicKey, 1, projectOf(i), `r${i}`));
      const result = await cache.writeIfCurrent(entries, startedAt, 60, 'big-job');
      expect(result.written).toEqual(keys.filter((_, i) => projectOf(i) === 10));
      expect(result.refused).toEqual(keys.filter((_, i) => projectOf(i) === 20));
      expect(result.refused.length).toBeGreaterThan(2);
      for (const i of [0, WRITE_CHUNK_ENTRIES, count - 1]) expect(await relayReads(layout, keys[i])).toEqual([entries[i].json, `r${i}`]);
      expect(await relayReads(layout, keys[3])).toEqual([null, null]);
      expect((await cache.lookupOrClaim(keys, keys.map(() => null), 'next')).filter((r) => r.status === 'claimed').length).toBe(result.refused.length);
    });

    it('disables only keys that are cached, and removes their revs', async () => {
      const { cache, layout } = make(10);
      await cache.writeIfCurrent([entry(key(1))], await cache.generation(), 60, null);
      expect(await cache.disableCached([key(1), key(2)])).toBe(1);
      expect(await relayReads(layout, key(1))).toEqual([DISABLED_JSON, null]);
      expect(await relayReads(layout, key(2))).toEqual([null, null]);
    });

    it('tells which keys are cached, and deletes config and rev together', async () => {
      const { cache, layout } = make(10);
      await cache.writeIfCurrent([entry(key(4)), entry(key(5))], await cache.generation(), 60, null);
      expect(await cache.cachedKeys([key(4), key(5), key(6)])).toEqual(new Set([key(4), key(5)]));
      await cache.delete([key(4)]);
      expect(await cache.cachedKeys([key(4), key(5)])).toEqual(new Set([key(5)]));
      expect(await relayReads(layout, key(4))).toEqual([null, null]);
      expect(await redis.exists(layout.deflated(key(4)))).toBe(0);
    });

    it('keeps a pre-compressed reply entry beside every config it writes or disables, and answers with it when asked', async () => {
      const { cache, layout } = make(10);
      await cache.writeIfCurrent([entry(key(1), 1, 10, 'r1')], await cache.generation(), 60, null);
      const [piece] = await cache.lookupOrClaim([key(1)], [null], 't', { deflated: true });
      if (piece?.status !== 'cached-deflated') throw new Error(`expected a piece, got ${piece?.status}`);
      const gzip = new GzipSplicer();
      gzip.addPiece(piece.piece);
      expect(gunzipSync(gzip.finish()).toString()).toBe(`"${key(1)}":${entry(key(1), 1, 10, 'r1').json}`);
      expect(await redis.pttl(layout.deflated(key(1)))).toBeGreaterThan(50_000);
      await cache.disableCached([key(1)]);
      const [disabled] = await cache.lookupOrClaim([key(1)], [null], 't', { deflated: true });
      if (disabled?.status !== 'cached-deflated') throw new Error('expected a piece');
      const again = new GzipSplicer();
      again.addPiece(disabled.piece);
      expect(gunzipSync(again.finish()).toString()).toBe(`"${key(1)}":${DISABLED_JSON}`);
    });

    it("stores a config's shared texts as segments of its piece (byte offsets past non-ASCII text too), and deletes the older versions' piece", async () => {
      const { cache, layout } = make(10);
      const shared = JSON.stringify({ profiles: Array.from({ length: 30 }, (_, i) => ({ name: `p${i}`, weight: i })) });
      const json = `{"slug":"ünïcode-€","performanceScore":${shared},"rest":1}`;
      const start = json.indexOf('{"profiles"');
      await redis.set(layout.legacyDeflated(key(3)), 'older format', 'EX', 60);
      await cache.writeIfCurrent([{ ...entry(key(3)), json, shared: [{ start, text: shared }] }], await cache.generation(), 60, null);
      expect(await redis.exists(layout.legacyDeflated(key(3)))).toBe(0);
      const [found] = await cache.lookupOrClaim([key(3)], [null], 't', { deflated: true });
      if (found?.status !== 'cached-deflated') throw new Error(`expected a piece, got ${found?.status}`);
      expect(found.piece.segments?.map((segment) => segment.shared !== null)).toEqual([false, true, false]);
      const gzip = new GzipSplicer();
      gzip.addPiece(found.piece);
      gzip.addPlain(',');
      gzip.addPiece(found.piece); // the second copy refers back to the first
      expect(gunzipSync(gzip.finish()).toString()).toBe(`"${key(3)}":${json},"${key(3)}":${json}`);
      await redis.set(layout.legacyDeflated(key(3)), 'older format', 'EX', 60);
      await cache.disableCached([key(3)]);
      expect(await redis.exists(layout.legacyDeflated(key(3)))).toBe(0);
    });

    it("answers from the stored entry only while the older versions' entry key is absent: a config an older version wrote is answered plain", async () => {
      const { cache, layout } = make(10);
      await cache.writeIfCurrent([entry(key(6), 1, 10, 'r1')], await cache.generation(), 60, null);
      const [fromEntry] = await cache.lookupOrClaim([key(6)], [null], 't', { deflated: true });
      expect(fromEntry?.status).toBe('cached-deflated');
      // An older version's write: config, rev and its own entry key, never this version's entry.
      await redis.set(layout.config(key(6)), '{"newer":true}', 'EX', 60);
      await redis.set(layout.rev(key(6)), 'r2', 'EX', 60);
      await redis.set(layout.legacyDeflated(key(6)), 'older format', 'EX', 60);
      expect(await cache.lookupOrClaim([key(6)], [null], 't', { deflated: true })).toEqual([{ status: 'cached', json: Buffer.from('{"newer":true}') }]);
      // ... and its disable (the config disabled, the rev deleted, its entry key written).
      await redis.set(layout.config(key(6)), DISABLED_JSON, 'EX', 60);
      await redis.del(layout.rev(key(6)));
      expect(await cache.lookupOrClaim([key(6)], [null], 't', { deflated: true })).toEqual([{ status: 'cached', json: Buffer.from(DISABLED_JSON) }]);
      // This version's own writes delete the older key, and the entry is taken again.
      await cache.disableCached([key(6)]);
      const [disabled] = await cache.lookupOrClaim([key(6)], [null], 't', { deflated: true });
      expect(disabled?.status).toBe('cached-deflated');
    });

    it('answers a config that has no piece (written by an older version) with its plain bytes', async () => {
      const { cache, layout } = make(10);
      await redis.set(layout.config(key(2)), '{"old":true}', 'EX', 60);
      expect(await cache.lookupOrClaim([key(2)], [null], 't', { deflated: true })).toEqual([{ status: 'cached', json: Buffer.from('{"old":true}') }]);
    });

    it('peeks at stored configs without claiming the missing ones', async () => {
      const { cache } = make(10);
      await cache.writeIfCurrent([entry(key(8))], await cache.generation(), 60, null);
      expect(await cache.peek([key(8), key(9)])).toEqual(new Map([[key(8), entry(key(8)).json]]));
      const [, missing] = await cache.lookupOrClaim([key(8), key(9)], [null, null], 'token');
      expect(missing).toEqual({ status: 'claimed' });
    });

    it('lets configs expire after their TTL', async () => {
      const { cache } = make(10);
      await cache.writeIfCurrent([entry(key(7))], await cache.generation(), 1, null);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await cache.cachedKeys([key(7)])).toEqual(new Set());
    });
  });
}

projectConfigCacheContract('Redis', (claimTtlS) => {
  const layout = freshLayout();
  return { cache: createRedisProjectConfigCache(redis, layout, { claimTtlS }), layout };
});

describe('config generations: pending invalidations', () => {
  it('needs one job per scope until it starts, and none inside a scope whose invalidation is pending', async () => {
    const generations = createConfigGenerations(redis, freshLayout(), { markerTtlMs: 60_000 });
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
});

describe('Redis layout', () => {
  it('keeps the names a processing Relay reads: <prefix>relayconfig:<publicKey> and its .rev', () => {
    const layout = redisLayout('p:');
    expect(layout.config(key(1))).toBe(`p:relayconfig:${key(1)}`);
    expect(layout.rev(key(1))).toBe(`p:relayconfig:${key(1)}.rev`);
    expect(redisLayout('').config(key(1))).toBe(`relayconfig:${key(1)}`);
  });
});

describe('a chunked write when Redis goes away in the middle', () => {
  it('fails the write (not a hang), and leaves no rejection of the chunks still in flight unhandled', async () => {
    const target = new URL(testSettings().redisUrl);
    // Latency keeps the first chunks in flight when the connection is cut.
    const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379), 30).start();
    const proxied = createRequestPathRedis(testSettings({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }), 'caches-test-cut');
    proxied.on('error', () => undefined);
    await new Promise((resolve) => proxied.once('ready', resolve));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const layout = freshLayout();
      const cache = createRedisProjectConfigCache(proxied, layout, { claimTtlS: 10 });
      const keys = Array.from({ length: WRITE_CHUNK_ENTRIES * 3 }, (_, i) => key(5000 + i));
      const startedAt = await cache.generation();
      const write = cache.writeIfCurrent(keys.map((k) => entry(k)), startedAt, 60, null);
      setTimeout(() => proxy.cut(), 10);
      await expect(write).rejects.toThrow();
      // The first two chunks were both in flight at the cut: the write reports the first failure,
      // the second one's must not surface as an unhandled rejection.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      proxied.disconnect();
      await proxy.close();
    }
  });
});
