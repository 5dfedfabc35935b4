import type { Logger } from 'pino';
import { createConfigGenerations, type ConfigGenerations } from './caches/config-generations';
import { createRedisProjectConfigCache, type ProjectConfigCache } from './caches/project-config-cache';
import { redisLayout, type RedisLayout } from './caches/layout';
import { createRequestPathRedis, isCluster, type RedisClient } from './caches/redis';
import { createRegistrationRateLimit, type RegistrationRateLimit } from './caches/registration-rate-limit';
import { createRelayActivity, type RelayActivity } from './caches/relay-activity';
import { createRelayKeyCache, type RelayKeyCache } from './caches/relay-key-cache';
import { createTrustedRelayKeyCache, type TrustedRelayKeyCache } from './caches/trusted-relay-key-cache';
import type { Settings } from './config/settings';
import { ConfigChangeSubscriber } from './db/config-change-subscriber';
import { initOrm, type Orm } from './db/orm';
import { createOutboxDrainer, DEFAULT_DRAINER_OPTIONS, outboxPublisher, outboxStats, type OutboxDrainer } from './db/outbox';
import { createSystemSecret } from './db/system-secret';
import { createLogger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { checkJobRegistry, createQueues, type Queues } from './jobs/registry';
import { createInvalidationScheduler, type InvalidationScheduler } from './queues/invalidate.queue';
import { createInternalPolicy, type InternalPolicy } from './relay-auth/internal-policy';
import { createRelayRefusals, type RelayRefusals } from './relay-auth/refusals';
import { trustedRelayKeyName } from './services/relay-trust';
import { withTimeout } from './with-timeout';

export type Role = 'api' | 'worker' | 'all' | 'cli';

/** Everything a process shares: settings, logger, ORM, Redis, caches, queues, metrics; closed together. */
export interface Container {
  role: Role;
  settings: Settings;
  logger: Logger;
  orm: Orm;
  /** The fail-fast connection of the request path (also the queues' producer connection). */
  redis: RedisClient;
  /** Every Redis key name this process uses. */
  layout: RedisLayout;
  metrics: Metrics;
  configCache: ProjectConfigCache;
  generations: ConfigGenerations;
  relayKeys: RelayKeyCache;
  /** The operator's trusted relay keys (`relays trust`), as the request path reads them. */
  trustedKeys: TrustedRelayKeyCache;
  internalPolicy: InternalPolicy;
  /** Counts and logs why a Relay endpoint refused a caller. */
  relayRefusals: RelayRefusals;
  /** Each relay's last config fetch. */
  relayActivity: RelayActivity;
  /** One queue per job kind of the job registry (producer side). */
  queues: Queues;
  invalidations: InvalidationScheduler;
  /** Publishes outbox rows: right after this process's own commits, and (workers) continuously. */
  outbox: OutboxDrainer;
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
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  // This connection fails fast, and a fresh process's first command would race the connect (and a
  // cluster client's slot map): a CLI command (one try, no Relay polling again) waits, briefly.
  if (role === 'cli' && redis.status !== 'ready') {
    await withTimeout(new Promise((resolve) => redis.once('ready', resolve)), 5000).catch(() => undefined);
  }
  const layout = redisLayout(settings.redisKeyPrefix, { cluster: isCluster(redis) });
  const metrics = createMetrics(role);
  const generations = createConfigGenerations(redis, layout, { markerTtlMs: settings.invalidationDelayMs + 60_000 });
  checkJobRegistry();
  const configCache = createRedisProjectConfigCache(redis, layout, { claimTtlS: settings.buildClaimTtlS });
  const queues = createQueues(redis, (queue) => layout.bullPrefix(queue), { keepCompletedS: settings.jobsKeepCompletedS, keepCompletedCount: settings.jobsKeepCompletedCount, keepFailedS: settings.jobsKeepFailedS });
  for (const queue of Object.values(queues)) queue.on('error', (err) => logger.debug({ err: err.message, queue: queue.name }, 'queue error'));
  const invalidations = createInvalidationScheduler(queues.invalidate, generations, configCache, settings.invalidationDelayMs, (change) =>
    metrics.invalidationsScheduled.inc({ scope: change.scope.scope }),
  );
  const relayKeys = createRelayKeyCache(redis, layout);
  const trustedKeys = createTrustedRelayKeyCache(redis, layout);
  const outbox = createOutboxDrainer(
    { orm, publish: outboxPublisher({ invalidations, relayKeys, trustedKeys, trustedKeyName: (publicKey) => trustedRelayKeyName(orm, publicKey) }), logger, onPublished: (row) => metrics.outboxPublished.inc({ kind: row.entry.kind }) },
    { ...DEFAULT_DRAINER_OPTIONS, pollMs: settings.outboxPollMs },
  );
  // Every committed change to config data leaves its outbox row, whoever made it; published at once when possible.
  orm.em.getEventManager().registerSubscriber(new ConfigChangeSubscriber((ids) => outbox.publishNow(ids)));
  metrics.outboxSource = () => outboxStats(orm);

  return {
    role,
    settings,
    logger,
    orm,
    redis,
    layout,
    metrics,
    configCache,
    generations,
    relayKeys,
    trustedKeys,
    internalPolicy: createInternalPolicy(settings),
    relayRefusals: createRelayRefusals({ counter: metrics.relayAuthRefusals, logger }),
    relayActivity: createRelayActivity(redis, layout),
    queues,
    invalidations,
    outbox,
    systemSecret: createSystemSecret(orm, settings.systemSecretKey),
    registrationRateLimit: createRegistrationRateLimit(redis, layout, settings.relayRegisterRateLimit),
    async readiness() {
      const [postgres, redisOk] = await Promise.all([
        withTimeout(orm.em.getConnection().execute('select 1'), 2000).then(() => true, () => false),
        withTimeout(redis.ping(), 1000).then(() => true, () => false),
      ]);
      return { postgres, redis: redisOk };
    },
    async close() {
      await outbox.stop();
      await Promise.allSettled(Object.values(queues).map((queue) => queue.close()));
      redis.disconnect();
      await orm.close(true);
    },
  };
}
