import type { Logger } from 'pino';
import { createRequestPathRedis, redisKeys, type Redis, type RedisKeys } from './caches/redis';
import type { Settings } from './config/settings';
import { initOrm, type Orm } from './db/orm';
import { createLogger } from './logger';
import { createMetrics, type Metrics } from './metrics';

export type Role = 'api' | 'worker' | 'all' | 'cli';

/** Everything a process shares: settings, logger, ORM, Redis, metrics; closed together. */
export interface Container {
  role: Role;
  settings: Settings;
  logger: Logger;
  orm: Orm;
  /** The fail-fast connection of the request path. */
  redis: Redis;
  keys: RedisKeys;
  metrics: Metrics;
  /** Whether PostgreSQL and Redis answer right now (for `/readyz`). */
  readiness(): Promise<{ postgres: boolean; redis: boolean }>;
  close(): Promise<void>;
}

export interface ContainerOptions {
  logger?: Logger;
}

/** Wires the process's dependencies. Connects lazily: a dependency that is down does not stop start-up. */
export async function createContainer(settings: Settings, role: Role, options: ContainerOptions = {}): Promise<Container> {
  const logger = options.logger ?? createLogger(settings, role);
  const requestPath = role === 'api' || role === 'all';
  const orm = await initOrm(settings, logger, requestPath ? { acquireTimeoutMs: 2000, poolMax: 10 } : { acquireTimeoutMs: 30_000, poolMax: 10 });
  const redis = createRequestPathRedis(settings, `relaycfg-${role}`);
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  const metrics = createMetrics(role);

  const withTimeout = <T>(promise: Promise<T>, ms: number) =>
    Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

  return {
    role,
    settings,
    logger,
    orm,
    redis,
    keys: redisKeys(settings.redisKeyPrefix),
    metrics,
    async readiness() {
      const [postgres, redisOk] = await Promise.all([
        withTimeout(orm.em.getConnection().execute('select 1'), 2000).then(() => true, () => false),
        withTimeout(redis.ping(), 1000).then(() => true, () => false),
      ]);
      return { postgres, redis: redisOk };
    },
    async close() {
      redis.disconnect();
      await orm.close(true);
    },
  };
}
