import { createHash } from 'node:crypto';
import { constants, crc32, deflateRawSync } from 'node:zlib';

/**
 * gzip replies spliced from pre-compressed pieces, so answering `Accept-Encoding: gzip` costs the
 * hot path no compression (RFC 1951/1952). Each stored reply entry is compressed once, when it
 * is written, as raw deflate ending in a flush: byte-aligned, no final block, no reference to
 * bytes before the entry — so any sequence of such chunks, with the request's own JSON glue
 * between them as *stored* (uncompressed) blocks and one empty final block, is a valid deflate
 * stream. The gzip trailer's CRC-32 of the whole reply is combined from each piece's CRC and
 * length (zlib's `crc32_combine`), never computed over the configs' bytes again.
 *
 * Configs share long texts (the ~6 KiB performance-score profiles are in every one), which
 * per-entry compression cannot see across entries. So an entry is stored as *segments*: its own
 * bytes, and each longer shared text as a segment of its own, marked with the text's identity.
 * Each segment is compressed apart and ends byte-aligned; own segments take the entry's bytes
 * before them as their dictionary, so they compress as one stream would. When a reply already
 * holds a shared text less than 32 KiB back, the splicer writes a few bytes of back-references
 * to that copy (`backReferenceBlock`) instead of the segment's compressed bytes: the decoded
 * bytes are the same either way, so is the entry's CRC, and deflate lets a block refer to any of
 * the last 32 KiB of output.
 */

/** One segment of a stored entry: its plain length, its compressed bytes, and for a shared text its identity. */
export interface PieceSegment {
  plainLength: number;
  deflated: Buffer;
  /** The shared text's identity (the first 8 bytes of its SHA-256, as latin1); null for the entry's own bytes. */
  shared: string | null;
}

/** A reply entry's pre-compressed form: its deflate chunk, the CRC-32 and length of its plain bytes. */
export interface DeflatedPiece {
  /** The whole entry (every segment's bytes in order): what a reply without back-references splices in. */
  deflated: Buffer;
  crc: number;
  length: number;
  /** The entry's segments, when it has shared ones. */
  segments?: readonly PieceSegment[];
}

/** Compresses one entry as one chunk. */
export function deflatePiece(plain: Buffer): DeflatedPiece {
  return { deflated: deflateRawSync(plain, { finishFlush: constants.Z_FULL_FLUSH }), crc: crc32(plain), length: plain.length };
}

/** The deflate window: how far back a reference may reach. */
const WINDOW = 32 * 1024;
/**
 * How much of the entry before an own segment its compression sees (a dictionary costs its
 * length in hashing; the nearby keys and punctuation are what a segment repeats).
 */
const DICTIONARY = 4 * 1024;
/** Own segments shorter than this go in as stored blocks: a compressor call costs more than it saves there. */
const STORED_BELOW = 128;

/** The 5-byte header of a stored (uncompressed) block of `length` (< 64 KiB) bytes; the stream is byte-aligned before it. */
function storedHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(5);
  header[0] = 0x00; // BFINAL 0, BTYPE 00 (stored)
  header.writeUInt16LE(length, 1);
  header.writeUInt16LE(~length & 0xffff, 3);
  return header;
}

/** `bytes` (< 64 KiB) as one stored block, byte-aligned as a flush leaves it. */
const storedBlock = (bytes: Buffer): Buffer => Buffer.concat([storedHeader(bytes.length), bytes]);

interface SharedForm {
  bytes: Buffer;
  id: string;
  deflated: Buffer;
}

/** Shared texts compressed once per process (a handful exist; the bound only guards against growth). */
const sharedForms = new Map<string, SharedForm>();
const SHARED_FORMS_MAX = 256;

function sharedForm(text: string): SharedForm {
  let form = sharedForms.get(text);
  if (!form) {
    if (sharedForms.size >= SHARED_FORMS_MAX) sharedForms.clear();
    const bytes = Buffer.from(text);
    const id = createHash('sha256').update(bytes).digest().toString('latin1', 0, 8);
    form = { bytes, id, deflated: deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH }) };
    sharedForms.set(text, form);
  }
  return form;
}

/** Where a shared text sits in an entry: its byte offset and the text. */
export interface SharedAt {
  offset: number;
  text: string;
}

/**
 * Compresses one entry at write time, the shared texts at `shared` (byte offsets, in order) as
 * segments of their own. A span whose bytes are not the text at that offset is left in the
 * entry's own bytes (never wrong, only less compact).
 */
export function deflateSegmentedPiece(plain: Buffer, shared: readonly SharedAt[]): DeflatedPiece {
  const segments: PieceSegment[] = [];
  let at = 0;
  const own = (end: number) => {
    if (end <= at) return;
    const bytes = plain.subarray(at, end);
    let deflated: Buffer;
    if (bytes.length < STORED_BELOW) deflated = storedBlock(bytes);
    else {
      const dictionary = at > 0 ? plain.subarray(Math.max(0, at - DICTIONARY), at) : undefined;
      // A window no larger than what the segment can refer to: a smaller compressor is cheaper to
      // set up (most own segments are a few hundred bytes) and compresses them as well.
      let windowBits = 12;
      while (windowBits < 15 && 1 << windowBits < bytes.length + (dictionary?.length ?? 0)) windowBits += 1;
      deflated = deflateRawSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH, windowBits, memLevel: windowBits - 7, ...(dictionary ? { dictionary } : {}) });
    }
    segments.push({ plainLength: bytes.length, deflated, shared: null });
    at = end;
  };
  for (const span of shared) {
    const form = sharedForm(span.text);
    const end = span.offset + form.bytes.length;
    if (span.offset < at || end > plain.length || !plain.subarray(span.offset, end).equals(form.bytes)) continue;
    own(span.offset);
    segments.push({ plainLength: form.bytes.length, deflated: form.deflated, shared: form.id });
    at = end;
  }
  own(plain.length);
  if (!segments.some((segment) => segment.shared !== null)) return deflatePiece(plain);
  return { deflated: Buffer.concat(segments.map((segment) => segment.deflated)), crc: crc32(plain), length: plain.length, segments };
}

/*
 * Stored form (one Redis value): a format byte, the entry's CRC-32 and length, the segment count,
 * per segment its plain and compressed lengths and a flag (1 = shared, then 8 bytes of identity),
 * then every segment's compressed bytes in order. A piece without shared texts is one segment.
 */
const PIECE_FORMAT = 2;
const HEADER = 1 + 4 + 4 + 1;
const SEGMENT_HEADER = 4 + 4 + 1;
const ID_LENGTH = 8;

export function encodePiece(piece: DeflatedPiece): Buffer {
  const segments = piece.segments ?? [{ plainLength: piece.length, deflated: piece.deflated, shared: null }];
  if (segments.length > 255) throw new Error('a piece of more than 255 segments');
  const headerLength = HEADER + segments.reduce((sum, segment) => sum + SEGMENT_HEADER + (segment.shared === null ? 0 : ID_LENGTH), 0);
  const out = Buffer.allocUnsafe(headerLength + piece.deflated.length);
  out[0] = PIECE_FORMAT;
  out.writeUInt32LE(piece.crc >>> 0, 1);
  out.writeUInt32LE(piece.length >>> 0, 5);
  out[9] = segments.length;
  let offset = HEADER;
  for (const segment of segments) {
    out.writeUInt32LE(segment.plainLength, offset);
    out.writeUInt32LE(segment.deflated.length, offset + 4);
    out[offset + 8] = segment.shared === null ? 0 : 1;
    offset += SEGMENT_HEADER;
    if (segment.shared !== null) offset += out.write(segment.shared, offset, ID_LENGTH, 'latin1');
  }
  piece.deflated.copy(out, offset);
  return out;
}

/** Reads a stored piece; null for anything that is not one (a reader then falls back to plain bytes). */
export function decodePiece(stored: Buffer): DeflatedPiece | null {
  if (stored.length < HEADER || stored[0] !== PIECE_FORMAT) return null;
  const count = stored[9];
  if (count === 0) return null;
  // The segment headers' length first: the compressed bytes start after them.
  let headerEnd = HEADER;
  for (let i = 0; i < count; i++) {
    if (headerEnd + SEGMENT_HEADER > stored.length) return null;
    headerEnd += SEGMENT_HEADER + (stored[headerEnd + 8] === 1 ? ID_LENGTH : 0);
  }
  if (headerEnd > stored.length) return null;
  const crc = stored.readUInt32LE(1);
  const length = stored.readUInt32LE(5);
  const deflated = stored.subarray(headerEnd);
  if (count === 1) return stored.readUInt32LE(HEADER) === length && stored.readUInt32LE(HEADER + 4) === deflated.length ? { deflated, crc, length } : null;
  const segments: PieceSegment[] = [];
  let offset = HEADER;
  let plain = 0;
  let at = headerEnd;
  for (let i = 0; i < count; i++) {
    const plainLength = stored.readUInt32LE(offset);
    const end = at + stored.readUInt32LE(offset + 4);
    const shared = stored[offset + 8] === 1 ? stored.toString('latin1', offset + SEGMENT_HEADER, offset + SEGMENT_HEADER + ID_LENGTH) : null;
    offset += SEGMENT_HEADER + (shared === null ? 0 : ID_LENGTH);
    if (end > stored.length) return null;
    segments.push({ plainLength, deflated: stored.subarray(at, end), shared });
    plain += plainLength;
    at = end;
  }
  return at === stored.length && plain === length ? { deflated, crc, length, segments } : null;
}

// --- Back-references (RFC 1951 §3.2.5–3.2.6: a block with the fixed Huffman codes) ---

/** Bits written least significant first, as deflate packs them, into a buffer of known size. */
class BitWriter {
  private bits = 0;
  private count = 0;
  length = 0;

  constructor(readonly bytes: Buffer) {}

  write(value: number, length: number): void {
    this.bits |= value << this.count;
    this.count += length;
    while (this.count >= 8) {
      this.bytes[this.length++] = this.bits & 0xff;
      this.bits >>>= 8;
      this.count -= 8;
    }
  }

  /** A Huffman code: its bits go most significant first. */
  writeCode(code: number, length: number): void {
    let reversed = 0;
    for (let i = 0; i < length; i++) reversed |= ((code >>> i) & 1) << (length - 1 - i);
    this.write(reversed, length);
  }

  /** Pads to a byte boundary. */
  align(): void {
    if (this.count > 0) this.write(0, 8 - this.count);
  }
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DISTANCE_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const MAX_MATCH = 258;
const MIN_MATCH = 3;

/** The last table index whose base is at most `value`. */
function codeOf(bases: readonly number[], value: number): number {
  let code = bases.length - 1;
  while (bases[code] > value) code -= 1;
  return code;
}

/** A literal/length symbol in the fixed code (RFC 1951 §3.2.6); only symbols 256–287 are needed. */
function writeLengthSymbol(out: BitWriter, symbol: number): void {
  if (symbol < 280) out.writeCode(symbol - 256, 7);
  else out.writeCode(0xc0 + symbol - 280, 8);
}

/**
 * A deflate block that repeats the `length` bytes found `distance` bytes back, ending on a byte
 * boundary (an empty stored block, as a sync flush writes). `length` ≥ 3, 1 ≤ `distance` ≤ 32 KiB.
 */
export function backReferenceBlock(length: number, distance: number): Buffer {
  if (length < MIN_MATCH || distance < 1 || distance > WINDOW) throw new RangeError(`no back-reference of ${length} bytes at ${distance}`);
  const cacheKey = length * (WINDOW + 1) + distance;
  const cached = blocks.get(cacheKey);
  if (cached) return cached;
  // Per match at most 8 + 5 bits of symbol and 5 + 13 of extra bits; then the block's end and the alignment.
  const matches = Math.ceil(length / MAX_MATCH) + 1;
  const out = new BitWriter(Buffer.allocUnsafe(Math.ceil((3 + matches * 31 + 7 + 3) / 8) + 1 + 4));
  out.write(0, 1); // BFINAL 0
  out.write(1, 2); // BTYPE 01: fixed Huffman codes
  const distanceCode = codeOf(DISTANCE_BASE, distance);
  for (let left = length; left > 0; ) {
    // Whole matches of 258, but never leave a remainder shorter than a match.
    const take = left <= MAX_MATCH ? left : left - MAX_MATCH < MIN_MATCH ? left - MIN_MATCH : MAX_MATCH;
    const lengthCode = codeOf(LENGTH_BASE, take);
    writeLengthSymbol(out, 257 + lengthCode);
    if (LENGTH_EXTRA[lengthCode] > 0) out.write(take - LENGTH_BASE[lengthCode], LENGTH_EXTRA[lengthCode]);
    out.writeCode(distanceCode, 5);
    if (DISTANCE_EXTRA[distanceCode] > 0) out.write(distance - DISTANCE_BASE[distanceCode], DISTANCE_EXTRA[distanceCode]);
    left -= take;
  }
  writeLengthSymbol(out, 256); // end of block
  out.write(0, 3); // an empty stored block: BFINAL 0, BTYPE 00 ...
  out.align();
  out.write(0, 16); // ... byte-aligned: LEN 0,
  out.write(0xffff, 16); // NLEN
  const block = out.bytes.subarray(0, out.length);
  if (blocks.size >= BLOCKS_MAX) blocks.clear();
  blocks.set(cacheKey, block);
  return block;
}

/**
 * Blocks written lately, by length and distance: a reply of like configs asks for the same few
 * again and again (the bound keeps the map small; it is only a saving).
 */
const blocks = new Map<number, Buffer>();
const BLOCKS_MAX = 4096;

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
  /** Where in the plain reply each shared text was last written (its identity → offset). */
  private readonly sharedAt = new Map<string, number>();

  /** Appends uncompressed bytes (the reply's JSON punctuation, keys, pending list). */
  addPlain(text: Buffer | string): void {
    const bytes = typeof text === 'string' ? Buffer.from(text) : text;
    for (let offset = 0; offset < bytes.length; offset += MAX_STORED) {
      const chunk = bytes.subarray(offset, offset + MAX_STORED);
      this.parts.push(storedHeader(chunk.length), chunk); // every piece ends byte-aligned (a flush)
    }
    this.crc = crc32(bytes, this.crc);
    this.length += bytes.length;
  }

  /** Appends an entry's pre-compressed piece; its shared texts refer back to an earlier copy within reach. */
  addPiece(piece: DeflatedPiece): void {
    if (!piece.segments) this.parts.push(piece.deflated);
    else {
      let at = this.length;
      for (const segment of piece.segments) {
        if (segment.shared === null) this.parts.push(segment.deflated);
        else {
          // The identity is a hash of the text's bytes, so an earlier copy has the same length.
          const earlier = this.sharedAt.get(segment.shared);
          const reachable = earlier !== undefined && at - earlier <= WINDOW && segment.plainLength >= MIN_MATCH;
          this.parts.push(reachable ? backReferenceBlock(segment.plainLength, at - earlier) : segment.deflated);
          this.sharedAt.set(segment.shared, at);
        }
        at += segment.plainLength;
      }
    }
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
