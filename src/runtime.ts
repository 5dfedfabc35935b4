import type { Server } from 'node:http';
import express from 'express';
import { loadSettings, SettingsError, type Settings } from './config/settings';
import { createContainer, type Container, type Role } from './container';
import { applyMigrations } from './db/orm';
import { createApp } from './http/app';
import { errorHandler, notFoundHandler } from './http/error-handler';
import { probesRouter } from './http/probes';
import { closeServer, listen } from './http/server';
import { startWorkers, type RunningWorkers } from './jobs/worker-runtime';
import { republishTrustedRelayKeys } from './services/relay-trust';
import { publishRelayKeys } from './services/relays';

/**
 * Start-up and shutdown shared by the role entry points in `workers/`: settings, container,
 * migrations, the API server and/or the workers, and a graceful SIGTERM.
 */

function settingsOrExit(): Settings {
  try {
    return loadSettings();
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * Applies migrations under the advisory lock. If PostgreSQL is down the process still starts
 * (the API keeps serving cached configs) and keeps retrying in the background.
 */
async function migrateWhenPossible(container: Container): Promise<void> {
  const attempt = async (): Promise<boolean> => {
    try {
      const applied = await applyMigrations(container.orm);
      if (applied.length > 0) container.logger.info({ applied }, 'migrations applied');
      return true;
    } catch (error) {
      container.logger.warn({ err: (error as Error).message }, 'could not apply migrations yet; retrying in 5 s');
      return false;
    }
  };
  if (await attempt()) return;
  const timer = setInterval(() => {
    void attempt().then((done) => done && clearInterval(timer));
  }, 5000);
  timer.unref();
}

/** Copies registered relays' public keys from PostgreSQL to Redis (e.g. after Redis lost its data). */
async function publishRelayKeysAtStart(container: Container): Promise<void> {
  try {
    const published = await publishRelayKeys(container);
    const inRedis = [...(await container.trustedKeys.current()).keys()];
    const trusted = await republishTrustedRelayKeys({ orm: container.orm, inRedis });
    container.logger.debug({ published, trusted }, 'relay keys published');
  } catch (error) {
    container.logger.warn({ err: (error as Error).message }, 'could not publish relay keys to Redis');
  }
}

/** Health and metrics of a worker process (the API serves its own). */
export function workerHttpApp(container: Container) {
  const app = express();
  app.set('x-powered-by', false);
  app.use(probesRouter(container));
  app.use(notFoundHandler);
  app.use(errorHandler(container.logger));
  return app;
}

/** Runs a role until SIGTERM/SIGINT: stop accepting, finish requests and jobs, close connections. */
export async function runRole(role: Exclude<Role, 'cli'>): Promise<void> {
  const settings = settingsOrExit();
  const container = await createContainer(settings, role);
  const { logger } = container;
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  await migrateWhenPossible(container);
  const servers: Server[] = [];
  let workers: RunningWorkers | null = null;
  if (role === 'api' || role === 'all') {
    void publishRelayKeysAtStart(container);
    servers.push(await listen(createApp(container), settings.port));
    logger.info({ port: settings.port }, 'API listening');
  }
  if (role === 'worker' || role === 'all') {
    workers = startWorkers(container);
    if (role === 'worker') {
      servers.push(await listen(workerHttpApp(container), settings.workerPort));
      logger.info({ port: settings.workerPort }, 'worker health and metrics listening');
    }
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const forced = setTimeout(() => {
      logger.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    forced.unref();
    await Promise.all(servers.map((server) => closeServer(server)));
    await workers?.close();
    await container.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
