import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentPiece } from '../src/caches/project-config-cache';
import { seed, type SeedResult } from '../src/db/seed';
import { buildFlate2Decoder, flate2Decode } from './support/flate2';
import type { TestRelay } from './support/relay-client';
import { startTestServer, type TestServer } from './support/server';
import { storedRev } from './support/stored-configs';

const V3 = '/api/0/relays/projectconfigs/?version=3';
const unknownKey = (i: number) => `${'e'.repeat(30)}${i.toString(16).padStart(2, '0')}`;

interface Reply {
  configs: Record<string, unknown>;
  pending?: string[];
  unchanged?: string[];
  global?: unknown;
}

/**
 * Every shape of v3 reply the service sends gzip, taken over HTTP from the running service and
 * decoded by Rust's flate2 (what Relay's HTTP client decodes with): the decoded bytes must be
 * exactly the plain reply to the same request. The workers are off, so nothing changes between the
 * plain and the gzip request: the cache is filled by version 2 (which computes and stores configs
 * and their pre-compressed pieces synchronously), and an uncached key stays pending.
 */
describe("v3 gzip replies decode byte-identically with Rust's flate2", () => {
  let server: TestServer;
  let relay: TestRelay;
  let seeded: SeedResult;
  let flate2 = '';
  /** Keys whose configs are cached (pieces included), and keys never asked for. */
  let cached: string[] = [];
  let uncached: string[] = [];

  beforeAll(async () => {
    flate2 = buildFlate2Decoder();
    server = await startTestServer({ RELAY_GLOBAL_CONFIG: '{"measurements":{"maxCustomMeasurements":10}}' }, { workers: false });
    relay = await server.internalRelay();
    seeded = await seed(server.container.orm.em.fork(), { orgs: 2, projects: 55, keys: 1 });
    cached = seeded.publicKeys.slice(0, 100);
    uncached = seeded.publicKeys.slice(100);
    const filled = await relay.projectConfigs({ publicKeys: [...cached, unknownKey(1), unknownKey(2)] }, '2');
    expect(filled.status).toBe(200);
    expect(Object.keys(filled.body.configs ?? {})).toHaveLength(102);
  }, 300_000);
  afterAll(async () => {
    await server?.close();
  });

  /** The same v3 request, plain and with `Accept-Encoding: gzip`; checks flate2 decodes the one to the other. */
  async function expectDecodes(body: Record<string, unknown>): Promise<{ reply: Reply; plain: Buffer; gzip: Buffer }> {
    const plain = await relay.postRaw(V3, body, { 'accept-encoding': 'identity' });
    const gzip = await relay.postRaw(V3, body, { 'accept-encoding': 'gzip' });
    expect(plain.status).toBe(200);
    expect(gzip.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gzip.headers['content-encoding']).toBe('gzip');
    // Node agrees (the other decoders are covered in gzip-splice.test.ts); flate2 is the point here.
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
    expect(flate2Decode(flate2, gzip.body, 'gz').equals(plain.body)).toBe(true);
    expect(flate2Decode(flate2, gzip.body, 'multi').equals(plain.body)).toBe(true);
    // As a body arrives over a socket: one byte per read, every block boundary split.
    expect(flate2Decode(flate2, gzip.body, 'gz', 1).equals(plain.body)).toBe(true);
    return { reply: JSON.parse(plain.body.toString('utf8')) as Reply, plain: plain.body, gzip: gzip.body };
  }

  it('the empty reply (no keys)', async () => {
    const { reply } = await expectDecodes({ publicKeys: [] });
    expect(reply).toEqual({ configs: {}, pending: [] });
  });

  it('only pending keys (never built; the workers are off)', async () => {
    const keys = uncached.slice(0, 5);
    const { reply } = await expectDecodes({ publicKeys: keys });
    expect(reply).toEqual({ configs: {}, pending: keys });
  });

  it('only unchanged keys (each revision matches)', async () => {
    const keys = cached.slice(0, 3);
    const revisions = await Promise.all(keys.map((k) => storedRev(server.container, k)));
    expect(revisions.every((rev) => typeof rev === 'string')).toBe(true);
    const { reply } = await expectDecodes({ publicKeys: keys, revisions });
    expect(reply).toEqual({ configs: {}, pending: [], unchanged: keys });
  });

  it('a single config', async () => {
    const { reply } = await expectDecodes({ publicKeys: [cached[0]] });
    expect(Object.keys(reply.configs)).toEqual([cached[0]]);
    expect(reply.pending).toEqual([]);
  });

  it('100 full configs', async () => {
    const { reply, plain, gzip } = await expectDecodes({ publicKeys: cached, fullConfig: true });
    expect(Object.keys(reply.configs)).toEqual(cached);
    expect(reply.pending).toEqual([]);
    // Full configs are several KiB each; the spliced reply is a fraction of the plain one: each
    // entry's shared texts (performance-score profiles, default filters) refer back to the copy
    // in the entry before, so the reply is under the 0.2× its entries compressed one by one reach.
    expect(plain.length).toBeGreaterThan(100 * 4096);
    expect(gzip.length).toBeLessThan(plain.length * 0.17);
    const { redis, layout } = server.container;
    const piece = currentPiece((await redis.getBuffer(layout.deflated(cached[0])))!, await redis.getBuffer(layout.legacyDeflated(cached[0])));
    expect(piece?.segments?.filter((segment) => segment.shared !== null).length).toBeGreaterThanOrEqual(2);
    // The decoder checks what it is given: the same reply with one bit of its CRC-32 flipped is refused.
    const corrupted = Buffer.from(gzip);
    corrupted[corrupted.length - 8] ^= 0x01;
    expect(() => flate2Decode(flate2, corrupted)).toThrow(/checksum/);
  });

  it('disabled keys (unknown keys, cached as disabled)', async () => {
    const keys = [unknownKey(1), unknownKey(2)];
    const { reply } = await expectDecodes({ publicKeys: keys });
    expect(reply).toEqual({ configs: { [keys[0]]: { disabled: true }, [keys[1]]: { disabled: true } }, pending: [] });
  });

  it('a mix: configs, disabled, pending, unchanged and the global config', async () => {
    const unchangedKey = cached[10];
    const keys = [cached[20], unknownKey(1), uncached[6], unchangedKey, cached[21]];
    const revisions = [null, null, null, await storedRev(server.container, unchangedKey), null];
    const { reply } = await expectDecodes({ publicKeys: keys, revisions, global: true });
    expect(Object.keys(reply.configs)).toEqual([cached[20], unknownKey(1), cached[21]]);
    expect(reply.pending).toEqual([uncached[6]]);
    expect(reply.unchanged).toEqual([unchangedKey]);
    expect(reply.global).toMatchObject({ measurements: { maxCustomMeasurements: 10 } });
  });

  it("a piece under the older versions' key is deleted when its config is written again (no stale piece for an older process)", async () => {
    const key = cached[40];
    const legacyKey = server.container.layout.legacyDeflated(key);
    await server.container.redis.set(legacyKey, 'a piece in the older format');
    const refreshed = await relay.projectConfigs({ publicKeys: [key] }, '2');
    expect(refreshed.status).toBe(200);
    expect(await server.container.redis.exists(legacyKey)).toBe(0);
    expect(await server.container.redis.exists(server.container.layout.deflated(key))).toBe(1);
  });

  it('a config stored without its pre-compressed piece (compressed for this request) among spliced ones', async () => {
    const bare = cached[30];
    const pieceKey = server.container.layout.deflated(bare);
    await server.container.redis.del(pieceKey);
    const { reply } = await expectDecodes({ publicKeys: [cached[29], bare, cached[31]] });
    expect(Object.keys(reply.configs)).toEqual([cached[29], bare, cached[31]]);
    expect(await server.container.redis.exists(pieceKey)).toBe(0);
  });
});
