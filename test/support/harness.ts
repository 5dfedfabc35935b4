import { randomBytes } from 'node:crypto';
import { Redis as IORedis } from 'ioredis';
import { deleteKeysWithPrefix, whenConnected } from '../../src/caches/redis';
import pino from 'pino';
import { inject } from 'vitest';
import { loadSettings, type Settings } from '../../src/config/settings';
import { createContainer, type Container, type Role } from '../../src/container';
import { CONFIG_FORMAT } from '../../src/relay-config/project-config';
import { createTestDatabase } from './db';

/**
 * Per-test-file environments on the real services: a cloned, migrated PostgreSQL database and a
 * unique Redis key prefix, so files run in parallel without seeing each other's data.
 */

/** Only the service addresses come from the environment; everything else is the tests' own. */
const base = () => loadSettings();

/** Settings for a test, from environment-style overrides (e.g. `{ BUILD_CLAIM_TTL_S: '2' }`). */
export function testSettings(env: Record<string, string> = {}): Settings {
  const { databaseUrl, redisUrl } = base();
  return loadSettings({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    LOG_LEVEL: 'warn',
    ...env,
  });
}

export function uniquePrefix(): string {
  return `test:${randomBytes(5).toString('hex')}:`;
}

/** A fresh database URL for this test file. */
export async function freshDatabaseUrl(): Promise<string> {
  return createTestDatabase(inject('testRunId'));
}

/** Environment overrides pointing at a fresh database and a fresh Redis prefix. */
export async function isolatedEnv(env: Record<string, string> = {}): Promise<Record<string, string>> {
  return { DATABASE_URL: await freshDatabaseUrl(), REDIS_KEY_PREFIX: uniquePrefix(), ...env };
}

/** A container on a fresh database and Redis prefix; `close()` also deletes its Redis keys. */
export async function testContainer(env: Record<string, string> = {}, role: Role = 'all'): Promise<Container> {
  const settings = testSettings(await isolatedEnv(env));
  const container = await createContainer(settings, role, { logger: pino({ level: settings.logLevel }) });
  // A fresh prefix is a fresh install, not an upgrade: without the stamp, starting workers would
  // recompute (rewrite, with new revs) whatever a test cached in the meantime.
  await whenConnected(container.redis, 5000);
  await container.redis.set(container.layout.configFormat, String(CONFIG_FORMAT));
  const close = container.close.bind(container);
  container.close = async () => {
    await deleteKeysWithPrefix(container.redis, settings.redisKeyPrefix).catch(() => undefined);
    await close();
  };
  return container;
}

/** Removes a fleet's Redis keys once its processes have stopped. */
export async function cleanUpPrefix(prefix: string): Promise<void> {
  const redis = new IORedis(testSettings().redisUrl);
  try {
    await deleteKeysWithPrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
