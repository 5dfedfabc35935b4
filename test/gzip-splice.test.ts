import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { backReferenceBlock, crc32Combine, decodePiece, deflatePiece, deflateSegmentedPiece, encodePiece, GzipSplicer } from '../src/caches/gzip-splice';
import { buildFlate2Decoder, flate2Decode } from './support/flate2';
import { prng } from './support/prng';

const config = (n: number) => Buffer.from(JSON.stringify({ disabled: false, projectId: n, slug: `p${n}`, config: { allowedDomains: ['*'], piiConfig: { rules: {} }, padding: 'x'.repeat(n % 300) } }));

/** A long text every entry shares (as the performance-score profiles are), and an entry holding it amid its own bytes. */
const SHARED = JSON.stringify({ profiles: Array.from({ length: 40 }, (_, i) => ({ name: `profile ${i}`, weight: (i * 37) % 101, condition: { op: 'eq', name: `browser.${i % 7}`, value: i } })) });
const sharedEntry = (n: number, padding: number) => Buffer.from(`{"projectId":${n},"slug":"p${n}","pad":"${'z'.repeat(padding)}${n}","performanceScore":${SHARED},"rest":"${n.toString(36).repeat(20)}"}`);

/** A reply the way the hot path assembles it, plain and spliced, from the same parts. */
function reply(keys: number[], extra: string): { plain: Buffer; gzip: Buffer } {
  const splicer = new GzipSplicer();
  const plainParts: Buffer[] = [];
  const plain = (text: string) => {
    splicer.addPlain(text);
    plainParts.push(Buffer.from(text));
  };
  plain('{"configs":{');
  keys.forEach((n, i) => {
    plain(`${i === 0 ? '' : ','}"${n.toString(16).padStart(32, '0')}":`);
    const bytes = config(n);
    splicer.addPiece(decodePiece(encodePiece(deflatePiece(bytes)))!);
    plainParts.push(bytes);
  });
  plain(`}${extra}}`);
  return { plain: Buffer.concat(plainParts), gzip: splicer.finish() };
}

describe('gzip replies spliced from pre-compressed configs', () => {
  let flate2 = '';
  beforeAll(() => {
    flate2 = buildFlate2Decoder();
  }, 300_000);

  it('combines CRC-32s exactly as computing over the joined bytes', () => {
    const random = prng(7);
    for (let i = 0; i < 200; i++) {
      const a = randomBytes(Math.floor(random() * 5000));
      const b = randomBytes(Math.floor(random() * 70_000));
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
    }
    expect(crc32Combine(crc32(Buffer.from('abc')), crc32(Buffer.alloc(0)), 0)).toBe(crc32(Buffer.from('abc')));
  });

  it.each([
    ['no keys', [], ''],
    ['one key', [1], ',"pending":[]'],
    ['100 keys and pending/unchanged lists', Array.from({ length: 100 }, (_, i) => i * 7 + 1), `,"pending":["${'a'.repeat(32)}"],"unchanged":["${'b'.repeat(32)}"]`],
    ['glue longer than one stored block', [3, 4], `,"global":{"pad":"${'y'.repeat(70_000)}"}`],
  ])("decodes byte-identically with Node zlib, GNU gzip, Python and Rust's flate2: %s", (_, keys, extra) => {
    const { plain, gzip } = reply(keys, extra);
    expect(gunzipSync(gzip).equals(plain)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: gzip }).equals(plain)).toBe(true);
    expect(execFileSync('python3', ['-c', 'import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))'], { input: gzip, maxBuffer: 64 * 1024 * 1024 }).equals(plain)).toBe(true);
    // GNU gzip's integrity test checks the CRC and length in the trailer.
    expect(() => execFileSync('gzip', ['-t'], { input: gzip })).not.toThrow();
    // flate2 (Relay's HTTP client decodes with it): one member and nothing after it, every member,
    // and the body handed over one byte per read (every block boundary split).
    expect(flate2Decode(flate2, gzip, 'gz').equals(plain)).toBe(true);
    expect(flate2Decode(flate2, gzip, 'multi').equals(plain)).toBe(true);
    expect(flate2Decode(flate2, gzip, 'gz', 1).equals(plain)).toBe(true);
  });

  it("is refused by Rust's flate2 when its trailer's CRC-32 or length is wrong, or it is cut short", () => {
    const { plain, gzip } = reply([1, 2, 3], ',"pending":[]');
    expect(flate2Decode(flate2, gzip).equals(plain)).toBe(true);
    const flipped = (offset: number) => {
      const copy = Buffer.from(gzip);
      copy[offset] ^= 0x01;
      return copy;
    };
    expect(() => flate2Decode(flate2, flipped(gzip.length - 8))).toThrow(/checksum/);
    expect(() => flate2Decode(flate2, flipped(gzip.length - 4))).toThrow(/length|checksum/);
    expect(() => flate2Decode(flate2, gzip.subarray(0, gzip.length - 9))).toThrow();
    // A second member after the reply: GzDecoder alone would ignore it; the helper does not.
    expect(() => flate2Decode(flate2, Buffer.concat([gzip, gzip]), 'gz')).toThrow(/after the gzip member/);
  });

  it('compresses configs of repetitive structure (as project configs are) to a fraction of their size', () => {
    const profile = (i: number) => ({ name: `Chrome ${i}`, scoreComponents: ['fcp', 'lcp', 'cls', 'ttfb', 'inp'].map((m) => ({ measurement: m, weight: 0.2, p10: 900, p50: 1600, optional: false })), condition: { op: 'eq', name: 'event.contexts.browser.name', value: 'Chrome' } });
    const splicer = new GzipSplicer();
    let plainLength = 0;
    for (let n = 0; n < 100; n++) {
      const bytes = Buffer.from(JSON.stringify({ projectId: n, config: { performanceScore: { profiles: Array.from({ length: 12 }, (_, i) => profile(i)) } } }));
      splicer.addPiece(deflatePiece(bytes));
      plainLength += bytes.length;
    }
    const gzip = splicer.finish();
    expect(gunzipSync(gzip).length).toBe(plainLength);
    expect(gzip.length / plainLength).toBeLessThan(0.2);
  });

  it('refuses to read a stored value too short to be a piece, or in the older format', () => {
    expect(decodePiece(Buffer.from('{"disabled":true}').subarray(0, 10))).toBeNull();
    const legacy = deflatePiece(config(5));
    const legacyStored = Buffer.concat([Buffer.alloc(8), legacy.deflated]);
    legacyStored.writeUInt32LE(legacy.crc, 0);
    legacyStored.writeUInt32LE(legacy.length, 4);
    legacyStored[0] = 2; // even with the format byte by chance: its lengths do not add up
    expect(decodePiece(legacyStored)).toBeNull();
    const stored = encodePiece(deflateSegmentedPiece(sharedEntry(1, 100), [{ offset: sharedEntry(1, 100).indexOf(SHARED), text: SHARED }]));
    expect(decodePiece(stored)?.segments).toHaveLength(3);
    expect(decodePiece(stored.subarray(0, stored.length - 1))).toBeNull();
  });

  it('writes back-references that decode to the bytes they point at, for every length and distance class', () => {
    const random = prng(11);
    const history = Buffer.from(Array.from({ length: 40_000 }, () => 97 + Math.floor(random() * 26)));
    for (const length of [3, 4, 10, 11, 18, 19, 257, 258, 259, 260, 261, 516, 1000, 6036]) {
      for (const distance of [1, 2, 5, 258, 1024, 4097, 12_345, 16_385, 32_768]) {
        const before = history.subarray(history.length - 32_768);
        const stored = Buffer.alloc(5);
        stored.writeUInt16LE(before.length, 1);
        stored.writeUInt16LE(~before.length & 0xffff, 3);
        const stream = Buffer.concat([stored, before, backReferenceBlock(length, distance), Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff])]);
        const expected = Buffer.from(before);
        const out = Buffer.concat([expected, Buffer.alloc(length)]);
        // Byte by byte, as a decoder copies (a distance shorter than the length repeats).
        for (let i = 0; i < length; i++) out[before.length + i] = out[before.length + i - distance];
        expect(inflateRawSync(stream).equals(out), `length ${length} at ${distance}`).toBe(true);
      }
    }
    expect(() => backReferenceBlock(2, 10)).toThrow(RangeError);
    expect(() => backReferenceBlock(10, 32_769)).toThrow(RangeError);
  });

  it.each([
    ['entries within reach (back-references)', 0],
    ['entries farther apart than the window (each shared text spliced in whole)', 40_000],
  ])("splices segmented entries so every decoder reads the plain reply: %s", (_, padding) => {
    const splicer = new GzipSplicer();
    const whole = new GzipSplicer();
    const plainParts: Buffer[] = [];
    splicer.addPlain('[');
    whole.addPlain('[');
    plainParts.push(Buffer.from('['));
    for (let n = 0; n < 30; n++) {
      const entry = sharedEntry(n, padding);
      // The second span points at bytes that are not the text: it is left in the entry's own bytes.
      const piece = decodePiece(encodePiece(deflateSegmentedPiece(entry, [{ offset: entry.indexOf(SHARED), text: SHARED }, { offset: entry.length - 10, text: SHARED }])))!;
      expect(piece.segments?.map((segment) => segment.shared !== null)).toEqual([false, true, false]);
      if (n > 0) {
        splicer.addPlain(',');
        whole.addPlain(',');
        plainParts.push(Buffer.from(','));
      }
      splicer.addPiece(piece);
      whole.addPiece(deflatePiece(entry));
      plainParts.push(entry);
    }
    splicer.addPlain(']');
    whole.addPlain(']');
    plainParts.push(Buffer.from(']'));
    const plain = Buffer.concat(plainParts);
    const gzip = splicer.finish();
    expect(gunzipSync(gzip).equals(plain)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: gzip, maxBuffer: 64 * 1024 * 1024 }).equals(plain)).toBe(true);
    expect(execFileSync('python3', ['-c', 'import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))'], { input: gzip, maxBuffer: 64 * 1024 * 1024 }).equals(plain)).toBe(true);
    expect(flate2Decode(flate2, gzip, 'gz').equals(plain)).toBe(true);
    expect(flate2Decode(flate2, gzip, 'gz', 1).equals(plain)).toBe(true);
    const entriesOnly = whole.finish().length;
    // Within reach, 29 of the 30 shared texts are a few bytes of references each.
    if (padding === 0) expect(gzip.length).toBeLessThan(entriesOnly * 0.6);
    else expect(gzip.length).toBeGreaterThan(entriesOnly * 0.9);
  });
});
