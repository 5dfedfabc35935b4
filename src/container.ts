import type { Logger } from 'pino';
import { createBuildClaims, type BuildClaims } from './caches/build-claims';
import { createConfigGenerations, type ConfigGenerations } from './caches/config-generations';
import { createRedisProjectConfigCache, type ProjectConfigCache } from './caches/project-config-cache';
import { createRequestPathRedis, redisKeys, type Redis, type RedisKeys } from './caches/redis';
import { createRegistrationRateLimit, type RegistrationRateLimit } from './caches/registration-rate-limit';
import { createRelayKeyCache, type RelayKeyCache } from './caches/relay-key-cache';
import type { Settings } from './config/settings';
import { ConfigChangeSubscriber } from './db/config-change-subscriber';
import { initOrm, type Orm } from './db/orm';
import { createSystemSecret } from './db/system-secret';
import { createLogger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { createBuildQueue, type BuildQueue } from './queues/build.queue';
import { createEmailVerificationQueue, type EmailVerificationQueue } from './queues/email-verification.queue';
import { createInvalidateQueue, createInvalidationScheduler, type InvalidateQueue, type InvalidationScheduler } from './queues/invalidate.queue';
import { createRelayPruneQueue, type RelayPruneQueue } from './queues/relay-prune.queue';
import { createInternalPolicy, type InternalPolicy } from './relay-auth/internal-policy';
import { withTimeout } from './with-timeout';

export type Role = 'api' | 'worker' | 'all' | 'cli';

/** Everything a process shares: settings, logger, ORM, Redis, caches, queues, metrics; closed together. */
export interface Container {
  role: Role;
  settings: Settings;
  logger: Logger;
  orm: Orm;
  /** The fail-fast connection of the request path (also the queues' producer connection). */
  redis: Redis;
  keys: RedisKeys;
  metrics: Metrics;
  configCache: ProjectConfigCache;
  buildClaims: BuildClaims;
  generations: ConfigGenerations;
  relayKeys: RelayKeyCache;
  internalPolicy: InternalPolicy;
  buildQueue: BuildQueue;
  invalidateQueue: InvalidateQueue;
  invalidations: InvalidationScheduler;
  /** Clean-ups after an organization starts requiring verified e-mail addresses. */
  emailVerificationQueue: EmailVerificationQueue;
  /** Removal of relays that stopped registering (a scheduled job). */
  relayPruneQueue: RelayPruneQueue;
  /** The MAC key of registration tokens: configured, or generated once and kept in PostgreSQL. */
  systemSecret(): Promise<string>;
  registrationRateLimit: RegistrationRateLimit;
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
  const orm = await initOrm(settings, logger, {
    ...(requestPath ? { acquireTimeoutMs: 2000 } : { acquireTimeoutMs: 30_000 }),
    poolMax: 10,
    applicationName: `relaycfg-${role}-${process.pid}`,
  });
  const redis = createRequestPathRedis(settings, `relaycfg-${role}`);
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  const keys = redisKeys(settings.redisKeyPrefix);
  const metrics = createMetrics(role);
  const generations = createConfigGenerations(redis, keys, { markerTtlMs: settings.invalidationDelayMs + 60_000 });
  const buildQueue = createBuildQueue(redis, keys.bullPrefix);
  const invalidateQueue = createInvalidateQueue(redis, keys.bullPrefix);
  const emailVerificationQueue = createEmailVerificationQueue(redis, keys.bullPrefix);
  const relayPruneQueue = createRelayPruneQueue(redis, keys.bullPrefix);
  for (const queue of [buildQueue, invalidateQueue, emailVerificationQueue, relayPruneQueue]) queue.on('error', (err) => logger.debug({ err: err.message, queue: queue.name }, 'queue error'));
  const invalidations = createInvalidationScheduler(invalidateQueue, generations, settings.invalidationDelayMs, (change) =>
    metrics.invalidationsScheduled.inc({ scope: change.scope.scope }),
  );
  // Every committed change to config data schedules its invalidation, whoever made it.
  orm.em.getEventManager().registerSubscriber(new ConfigChangeSubscriber((changes) => invalidations.schedule(changes), () => orm.em.fork(), logger));

  return {
    role,
    settings,
    logger,
    orm,
    redis,
    keys,
    metrics,
    configCache: createRedisProjectConfigCache(redis, keys),
    buildClaims: createBuildClaims(redis, keys, settings.buildClaimTtlS),
    generations,
    relayKeys: createRelayKeyCache(redis, keys),
    internalPolicy: createInternalPolicy(settings),
    buildQueue,
    invalidateQueue,
    invalidations,
    emailVerificationQueue,
    relayPruneQueue,
    systemSecret: createSystemSecret(orm, settings.systemSecretKey),
    registrationRateLimit: createRegistrationRateLimit(redis, keys, settings.relayRegisterRateLimit),
    async readiness() {
      const [postgres, redisOk] = await Promise.all([
        withTimeout(orm.em.getConnection().execute('select 1'), 2000).then(() => true, () => false),
        withTimeout(redis.ping(), 1000).then(() => true, () => false),
      ]);
      return { postgres, redis: redisOk };
    },
    async close() {
      await Promise.allSettled([buildQueue.close(), invalidateQueue.close(), emailVerificationQueue.close(), relayPruneQueue.close()]);
      redis.disconnect();
      await orm.close(true);
    },
  };
}
