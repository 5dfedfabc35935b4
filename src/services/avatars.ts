/**
 * Organization avatars: an uploaded PNG or JPEG of at most 1 MiB and 1024×1024 pixels, stored in
 * PostgreSQL so every replica can serve it. The format and size are read from the image's own
 * header (PNG IHDR, JPEG SOF), never from what the client claims.
 */

export const MAX_AVATAR_BYTES = 1024 * 1024;
export const MAX_AVATAR_PIXELS = 1024;

export interface ImageInfo {
  contentType: 'image/png' | 'image/jpeg';
  width: number;
  height: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngInfo(bytes: Buffer): ImageInfo | null {
  // Signature, then the IHDR chunk: length (4), type (4), width (4), height (4).
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { contentType: 'image/png', width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Start-of-frame markers carry the dimensions (C4 DHT, C8 JPG and CC DAC do not). */
const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegInfo(bytes: Buffer): ImageInfo | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let i = 2;
  while (i + 3 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / scan before any frame header
    const length = bytes.readUInt16BE(i + 2);
    if (length < 2) return null;
    if (SOF_MARKERS.has(marker)) {
      if (i + 9 > bytes.length) return null;
      return { contentType: 'image/jpeg', height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  return null;
}

/** The format and dimensions of a PNG or JPEG; null for anything else or a truncated header. */
export function inspectImage(bytes: Buffer): ImageInfo | null {
  return pngInfo(bytes) ?? jpegInfo(bytes);
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes and checks an uploaded avatar (base64, optionally as a `data:` URL); returns the image
 * or a message saying what is wrong with it.
 */
export function decodeAvatar(input: unknown): { bytes: Buffer; info: ImageInfo } | string {
  if (typeof input !== 'string') return 'The avatar must be a base64-encoded PNG or JPEG image.';
  const text = input.replace(/^data:image\/[a-z+.-]+;base64,/i, '').replace(/\s+/g, '');
  if (text === '') return 'The avatar image is empty.';
  if (!BASE64_RE.test(text) || text.length % 4 === 1) return 'The avatar is not valid base64.';
  // Decoded size is known from the text length; refuse before allocating a huge buffer.
  if (Math.floor((text.length * 3) / 4) - (text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0) > MAX_AVATAR_BYTES) {
    return `The avatar image must be at most ${MAX_AVATAR_BYTES} bytes (1 MiB).`;
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length > MAX_AVATAR_BYTES) return `The avatar image must be at most ${MAX_AVATAR_BYTES} bytes (1 MiB).`;
  const info = inspectImage(bytes);
  if (!info) return 'The avatar must be a PNG or JPEG image.';
  if (info.width < 1 || info.height < 1) return 'The avatar image has no pixels.';
  if (info.width > MAX_AVATAR_PIXELS || info.height > MAX_AVATAR_PIXELS) {
    return `The avatar image must be at most ${MAX_AVATAR_PIXELS}×${MAX_AVATAR_PIXELS} pixels (got ${info.width}×${info.height}).`;
  }
  return { bytes, info };
}
