import { Redis, type RedisOptions } from 'ioredis';
import type { Settings } from '../config/settings';

/**
 * Redis connections (the key layout is `layout.ts`). The request path fails fast so an outage
 * becomes a quick 503; workers wait patiently for Redis to come back.
 */

export type { Redis } from 'ioredis';

/** Reconnect forever, backing off to one attempt every two seconds. */
const retryStrategy = (times: number) => Math.min(times * 100, 2000);

/** A connection for the API's request path: no offline queue, short timeouts. */
export function createRequestPathRedis(settings: Pick<Settings, 'redisUrl'>, name: string): Redis {
  const options: RedisOptions = {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 1000,
    retryStrategy,
  };
  return new Redis(settings.redisUrl, options);
}

/**
 * A connection for one-shot operator commands (the CLI): a command waits for the connection to be
 * up (a fresh process sends its first command before the socket is ready) and for a slow Redis, up
 * to a bound, instead of failing at once as the request path does.
 */
export function createOperatorRedis(settings: Pick<Settings, 'redisUrl'>, name: string): Redis {
  return new Redis(settings.redisUrl, {
    connectionName: name,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 3,
    commandTimeout: 10_000,
    connectTimeout: 5000,
    retryStrategy,
  });
}

/** A connection for workers and BullMQ: commands wait for Redis to return (BullMQ needs this). */
export function createWorkerRedis(settings: Pick<Settings, 'redisUrl'>, name: string): Redis {
  return new Redis(settings.redisUrl, {
    connectionName: name,
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    retryStrategy,
  });
}

/**
 * True for the errors ioredis raises while Redis is unreachable (never for script or type errors,
 * and never for other libraries' socket errors, which the PostgreSQL check classifies).
 */
export function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const message = error.message;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    message.startsWith("Stream isn't writeable") ||
    message.startsWith('Connection is closed') ||
    message === 'Command timed out' ||
    message.startsWith('LOADING') ||
    message.startsWith('MASTERDOWN')
  );
}

/**
 * Deletes every key under a prefix (tests and benchmark runs clean up their own keys), including
 * the companion keys whose name starts with a hash tag around the prefixed name (layout.ts).
 */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  if (!prefix) return;
  for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern.replace(/[[\]?]/g, '\\$&'), 'COUNT', 1000);
      // One DEL per key (not one multi-key DEL): keys of a cluster live in different slots.
      await Promise.all(found.map((key) => redis.del(key)));
      cursor = next;
    } while (cursor !== '0');
  }
}

/**
 * Resolves once the connection is ready, or after `timeoutMs` (whatever happened): for the first
 * command of a fail-fast connection, which would fail while the connection is still being made.
 */
export function whenConnected(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    redis.once('ready', done);
  });
}
