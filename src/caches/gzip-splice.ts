import { constants, crc32, deflateRawSync } from 'node:zlib';

/**
 * gzip replies spliced from pre-compressed pieces, so answering `Accept-Encoding: gzip` costs the
 * hot path no compression (RFC 1951/1952). Each stored config is compressed once, when it is
 * written, as raw deflate ending in a *full flush*: byte-aligned, no final block, no reference to
 * bytes before it — so any sequence of such chunks, with the request's own JSON glue between them
 * as *stored* (uncompressed) blocks and one empty final block, is a valid deflate stream. The
 * gzip trailer's CRC-32 of the whole reply is combined from each piece's CRC and length (zlib's
 * `crc32_combine`), never computed over the configs' bytes again.
 */

/** A config's pre-compressed form: its deflate chunk, the CRC-32 and length of its plain bytes. */
export interface DeflatedPiece {
  deflated: Buffer;
  crc: number;
  length: number;
}

/** Compresses one config once, at write time. */
export function deflatePiece(plain: Buffer): DeflatedPiece {
  return { deflated: deflateRawSync(plain, { finishFlush: constants.Z_FULL_FLUSH }), crc: crc32(plain), length: plain.length };
}

/** The piece's stored form: 8 bytes of CRC and length, then the chunk (one Redis value). */
export function encodePiece(piece: DeflatedPiece): Buffer {
  const out = Buffer.allocUnsafe(8 + piece.deflated.length);
  out.writeUInt32LE(piece.crc >>> 0, 0);
  out.writeUInt32LE(piece.length >>> 0, 4);
  piece.deflated.copy(out, 8);
  return out;
}

/** Reads a stored piece; null for anything that is not one (a reader then falls back to plain bytes). */
export function decodePiece(stored: Buffer): DeflatedPiece | null {
  if (stored.length < 8 + 5) return null;
  return { crc: stored.readUInt32LE(0), length: stored.readUInt32LE(4), deflated: stored.subarray(8) };
}

// --- CRC-32 combination (the polynomial arithmetic of zlib's crc32_combine) ---

const POLY = 0xedb88320; // reflected CRC-32 polynomial

/** a(x) · b(x) modulo the CRC polynomial, in the reflected bit order CRC-32 uses. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial, for k = 0..31: multiplying by x^(8n) is log n multiplications. */
const X2N: number[] = (() => {
  const table = new Array<number>(32);
  let p = 1 << 30; // x^1
  table[0] = p;
  for (let k = 1; k < 32; k++) table[k] = p = multModP(p, p);
  return table;
})();

/** x^(n · 2^k) modulo the polynomial. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0 == 1
  while (n) {
    if (n & 1) p = multModP(X2N[k & 31], p);
    n = Math.floor(n / 2);
    k += 1;
  }
  return p;
}

/** The CRC-32 of A‖B from crc(A), crc(B) and B's length. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}

// --- Assembling a reply ---

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
/** An empty stored block with BFINAL set: ends the deflate stream. */
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);
const MAX_STORED = 0xffff;

/**
 * Builds one gzip member from plain JSON glue and pre-compressed configs, in order. Glue goes in
 * as stored blocks (a few bytes of framing; glue is small), pieces as they are.
 */
export class GzipSplicer {
  private readonly parts: Buffer[] = [GZIP_HEADER];
  private crc = 0;
  private length = 0;

  /** Appends uncompressed bytes (the reply's JSON punctuation, keys, pending list). */
  addPlain(text: Buffer | string): void {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    for (let offset = 0; offset < bytes.length; offset += MAX_STORED) {
      const chunk = bytes.subarray(offset, offset + MAX_STORED);
      const header = Buffer.allocUnsafe(5);
      header[0] = 0x00; // BFINAL 0, BTYPE 00 (stored); the stream is byte-aligned after a full flush
      header.writeUInt16LE(chunk.length, 1);
      header.writeUInt16LE(~chunk.length & 0xffff, 3);
      this.parts.push(header, chunk);
    }
    this.crc = crc32(bytes, this.crc);
    this.length += bytes.length;
  }

  /** Appends a config's pre-compressed piece. */
  addPiece(piece: DeflatedPiece): void {
    this.parts.push(piece.deflated);
    this.crc = crc32Combine(this.crc, piece.crc, piece.length);
    this.length += piece.length;
  }

  /** The plain size so far (for the response cap, which counts uncompressed bytes). */
  get plainLength(): number {
    return this.length;
  }

  finish(): Buffer {
    const trailer = Buffer.allocUnsafe(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.length >>> 0, 4);
    return Buffer.concat([...this.parts, FINAL_BLOCK, trailer]);
  }
}
