import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeBase64Url, encodeBase64Url } from './keys';

/**
 * Relay's stateless registration challenge token (PROTOCOL.md §2, "Registration"):
 * `b64url(json{timestamp, relay_id, public_key, rand}) + ":" + b64url(HMAC-SHA512(secret, part1))`.
 * Any replica with the same system secret can check a token another replica issued.
 */

export interface RegistrationTokenData {
  relayId: string;
  publicKey: string;
  timestamp: number;
}

function mac(secret: string, payloadText: string): Buffer {
  return createHmac('sha512', secret).update(payloadText).digest();
}

export function createRegistrationToken(secret: string, relayId: string, publicKey: string, now: Date = new Date()): string {
  const payload = JSON.stringify({
    timestamp: Math.floor(now.getTime() / 1000),
    relay_id: relayId,
    public_key: publicKey,
    rand: encodeBase64Url(randomBytes(64)),
  });
  const payloadText = encodeBase64Url(Buffer.from(payload));
  return `${payloadText}:${encodeBase64Url(mac(secret, payloadText))}`;
}

/** Checks the MAC, then the age (`maxAgeS` null: no age check). */
export function verifyRegistrationToken(
  token: string,
  secret: string,
  maxAgeS: number | null,
  now: Date = new Date(),
): RegistrationTokenData | 'invalid' | 'expired' {
  if (typeof token !== 'string') return 'invalid';
  const colon = token.indexOf(':');
  if (colon < 0) return 'invalid';
  const payloadText = token.slice(0, colon);
  const signature = decodeBase64Url(token.slice(colon + 1));
  const expected = mac(secret, payloadText);
  if (!signature || signature.length !== expected.length || !timingSafeEqual(signature, expected)) return 'invalid';
  const payloadBytes = decodeBase64Url(payloadText);
  if (!payloadBytes) return 'invalid';
  let payload: { timestamp?: unknown; relay_id?: unknown; public_key?: unknown };
  try {
    payload = JSON.parse(payloadBytes.toString('utf8')) as typeof payload;
  } catch {
    return 'invalid';
  }
  if (typeof payload.timestamp !== 'number' || typeof payload.relay_id !== 'string' || typeof payload.public_key !== 'string') return 'invalid';
  if (maxAgeS !== null && payload.timestamp < now.getTime() / 1000 - maxAgeS) return 'expired';
  return { relayId: payload.relay_id, publicKey: payload.public_key, timestamp: payload.timestamp };
}
