import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/**
 * Relay's key and signature formats (getsentry/relay, relay-auth): Ed25519, every binary value as
 * base64url without padding.
 */

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

/** Strict unpadded base64url: rejects `=`, foreign characters and non-canonical trailing bits. */
export function decodeBase64Url(text: string): Buffer | null {
  if (!B64URL_RE.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** A relay public key (43 characters, 32 bytes) as a KeyObject; null when it does not parse. */
export function parseRelayPublicKey(text: string): KeyObject | null {
  if (typeof text !== 'string' || text.length !== 43) return null;
  const raw = decodeBase64Url(text);
  if (!raw || raw.length !== 32) return null;
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: text }, format: 'jwk' });
  } catch {
    return null;
  }
}

export interface RelayKeyPair {
  secretKey: KeyObject;
  publicKey: KeyObject;
  /** The 43-character public key. */
  publicKeyText: string;
}

/**
 * Parses a relay secret key: the 32-byte seed (43 characters) or the 64-byte `seed‖public` form
 * (86 characters, whose public half must match the seed). Null when it does not parse.
 */
export function parseRelaySecretKey(text: string): RelayKeyPair | null {
  if (typeof text !== 'string' || (text.length !== 43 && text.length !== 86)) return null;
  const raw = decodeBase64Url(text);
  if (!raw || (raw.length !== 32 && raw.length !== 64)) return null;
  const seed = raw.subarray(0, 32);
  let secretKey: KeyObject;
  try {
    secretKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: encodeBase64Url(seed), x: derivePublicX(seed) },
      format: 'jwk',
    });
  } catch {
    return null;
  }
  const publicKey = createPublicKey(secretKey);
  const publicKeyText = publicKey.export({ format: 'jwk' }).x as string;
  if (raw.length === 64 && encodeBase64Url(raw.subarray(32)) !== publicKeyText) return null;
  return { secretKey, publicKey, publicKeyText };
}

/** Derives the public half of a seed via a PKCS#8 import (the JWK import needs `x`). */
function derivePublicX(seed: Buffer): string {
  const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  const key = createPrivateKey({ key: Buffer.concat([pkcs8Prefix, seed]), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ format: 'jwk' }).x as string;
}

/** A fresh key pair in Relay's text forms (`secret` is the 86-character `seed‖public` form). */
export function generateRelayKeyPair(): { secret: string; public: string } {
  const seed = Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
  const publicX = derivePublicX(seed);
  return {
    secret: encodeBase64Url(Buffer.concat([seed, decodeBase64Url(publicX) as Buffer])),
    public: publicX,
  };
}

export type SignatureFailure = 'malformed' | 'bad-signature' | 'expired';

export interface VerifiedSignature {
  /** The signature header's timestamp, when it carries one. */
  timestamp: Date | null;
}

/** Relay's RFC 3339 UTC timestamp with a Z suffix and 0, 3, 6 or 9 fraction digits. */
const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}|\d{6}|\d{9}))?Z$/;

function parseSignatureTimestamp(text: unknown): Date | null {
  if (typeof text !== 'string') return null;
  const m = TIMESTAMP_RE.exec(text);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${(m[7] ?? '000').slice(0, 3)}Z`);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/**
 * Verifies `X-Sentry-Relay-Signature` over `headerJson ‖ NUL ‖ body` (body bytes exactly as
 * received). `maxAgeS` null disables the age check; a timestamp in the future always passes.
 */
export function verifyRelaySignature(
  publicKey: KeyObject,
  body: Uint8Array,
  signature: string,
  maxAgeS: number | null,
  now: Date = new Date(),
): VerifiedSignature | SignatureFailure {
  const dot = signature.indexOf('.');
  if (dot < 0) return 'malformed';
  const sig = decodeBase64Url(signature.slice(0, dot));
  const header = decodeBase64Url(signature.slice(dot + 1));
  if (!sig || !header || sig.length !== 64) return 'malformed';
  const message = Buffer.allocUnsafe(header.length + 1 + body.length);
  header.copy(message, 0);
  message[header.length] = 0;
  message.set(body, header.length + 1);
  let valid: boolean;
  try {
    valid = cryptoVerify(null, message, publicKey, sig);
  } catch {
    valid = false;
  }
  if (!valid) return 'bad-signature';
  let parsedHeader: unknown;
  try {
    parsedHeader = JSON.parse(header.toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (parsedHeader === null || typeof parsedHeader !== 'object') return 'malformed';
  const t = (parsedHeader as { t?: unknown }).t;
  if (t === undefined) return { timestamp: null };
  const timestamp = parseSignatureTimestamp(t);
  if (!timestamp) return 'malformed';
  if (maxAgeS !== null && timestamp.getTime() < now.getTime() - maxAgeS * 1000) return 'expired';
  return { timestamp };
}

/** Signs a body as Relay does; the timestamp carries 6 fraction digits like Relay's. */
export function signRelayBody(secretKey: KeyObject, body: Uint8Array, now: Date = new Date()): string {
  const iso = now.toISOString(); // 2020-09-08T13:33:35.993Z
  const header = Buffer.from(JSON.stringify({ t: `${iso.slice(0, 23)}000Z` }));
  const message = Buffer.concat([header, Buffer.from([0]), body]);
  const sig = cryptoSign(null, message, secretKey);
  return `${encodeBase64Url(sig)}.${encodeBase64Url(header)}`;
}
