import { randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { RedisLayout } from './layout';
import { isRedisUnavailable, type RedisClient } from './redis';

/**
 * Registration requests per client address in a sliding one-minute window, kept in Redis so the
 * limit holds across API replicas. Each address has a sorted set of its accepted requests' times
 * (Redis's clock, so replicas with skewed clocks agree); refused requests are not recorded, so a
 * client that waits `Retry-After` is let in.
 *
 * Contract: while Redis answers, never more than `limit` requests of one address are accepted in
 * any window. While it does not, requests pass: a challenge alone writes nothing, and the response
 * step cannot complete without Redis anyway (it publishes the key there), so refusing would only
 * turn a Redis blip, e.g. the first request before the connection is up, into failed registrations.
 */
export interface RegistrationRateLimit {
  /** Records a request; null when it is allowed, else the seconds until one would be. */
  hit(clientAddress: string | undefined): Promise<number | null>;
}

export const REGISTRATION_WINDOW_MS = 60_000;

// KEYS: the address's log. ARGV: window (ms), limit, a unique member. Returns 0 when the request
// is recorded, else the milliseconds until the oldest entry leaves the window.
const HIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

interface RateLimitCommands {
  relayRegistrationHit(numKeys: number, ...args: string[]): Promise<number>;
}

export function createRegistrationRateLimit(redis: RedisClient, layout: RedisLayout, limit: number): RegistrationRateLimit {
  if (limit === 0) return { hit: () => Promise.resolve(null) };
  if (!('relayRegistrationHit' in redis)) redis.defineCommand('relayRegistrationHit', { lua: HIT });
  const r = redis as RedisClient & RateLimitCommands;
  return {
    async hit(clientAddress) {
      const key = layout.registrationRate(rateLimitBucket(clientAddress));
      let waitMs: number;
      try {
        waitMs = await r.relayRegistrationHit(1, key, String(REGISTRATION_WINDOW_MS), String(limit), randomBytes(8).toString('hex'));
      } catch (error) {
        if (isRedisUnavailable(error)) return null;
        throw error;
      }
      return waitMs === 0 ? null : Math.ceil(waitMs / 1000);
    },
  };
}

/**
 * The unit an address is limited by: an IPv4 address, or the /64 of an IPv6 address (one host
 * usually holds a whole /64, so counting single IPv6 addresses would limit nothing).
 */
export function rateLimitBucket(address: string | undefined): string {
  if (!address) return 'unknown';
  const plain = address.replace(/%.*$/, '');
  if (plain.startsWith('::ffff:') && isIPv4(plain.slice(7))) return plain.slice(7);
  if (!isIPv6(plain)) return plain;
  const [head = '', tail] = plain.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
