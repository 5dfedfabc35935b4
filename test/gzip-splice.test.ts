import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { crc32, gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32Combine, decodePiece, deflatePiece, encodePiece, GzipSplicer } from '../src/caches/gzip-splice';
import { buildFlate2Decoder, flate2Decode } from './support/flate2';
import { prng } from './support/prng';

const config = (n: number) => Buffer.from(JSON.stringify({ disabled: false, projectId: n, slug: `p${n}`, config: { allowedDomains: ['*'], piiConfig: { rules: {} }, padding: 'x'.repeat(n % 300) } }));

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

  it('refuses to read a stored value too short to be a piece', () => {
    expect(decodePiece(Buffer.from('{"disabled":true}').subarray(0, 10))).toBeNull();
  });
});
