import { MikroORM, type Options, type LogContext, type LoggerNamespace, type Logger as OrmLogger, type LoggerOptions } from '@mikro-orm/core';
import type { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Settings } from '../config/settings';
import { clip } from '../logger';
import { allEntities } from './entities';
import { recordQuery } from './query-counter';
import { MIGRATION_NAMES } from './migrations/names';

export type Orm = MikroORM<PostgreSqlDriver>;
export type { EntityManager } from '@mikro-orm/postgresql';

export interface OrmOptions {
  /** Longest wait for a pooled connection: short on the request path, patient in workers. */
  acquireTimeoutMs?: number;
  poolMax?: number;
  /** Shown in pg_stat_activity, so an operator can tell which process holds a connection. */
  applicationName?: string;
}

/** Sends MikroORM's messages to pino: failed statements as warnings, the rest only at trace level. */
class PinoOrmLogger implements OrmLogger {
  constructor(private readonly pino: Logger) {}
  log(namespace: LoggerNamespace, message: string, context?: LogContext): void {
    this.pino.debug({ namespace, ...(context ? { level: context.level } : {}) }, message);
  }
  error(namespace: LoggerNamespace, message: string): void {
    this.pino.error({ namespace }, message);
  }
  warn(namespace: LoggerNamespace, message: string): void {
    this.pino.warn({ namespace }, message);
  }
  logQuery(context: { query: string } & LogContext): void {
    // The error thrown to the caller carries the whole statement; this line only marks the failure.
    if (context.level === 'error') this.pino.warn({ namespace: 'query', took: context.took, queryLength: context.query.length }, clip(context.query, 200));
    else if (this.pino.isLevelEnabled('trace')) this.pino.trace({ namespace: 'query', took: context.took }, context.query);
  }
  setDebugMode(): void {}
  isEnabled(): boolean {
    return true;
  }
}

const MIGRATIONS_TABLE = 'mikro_orm_migrations';

/** The ORM configuration shared by every role. */
export function ormConfig(settings: Pick<Settings, 'databaseUrl'>, logger: Logger, options: OrmOptions = {}): Options<PostgreSqlDriver> {
  return {
    driver: PostgreSqlDriver,
    clientUrl: settings.databaseUrl,
    entities: allEntities,
    discovery: { warnWhenNoEntities: false },
    // Entities are read by workers and written by the API; no implicit transactions on reads.
    implicitTransactions: true,
    forceUtcTimezone: true,
    allowGlobalContext: false,
    loadStrategy: 'select-in',
    pool: { min: 0, max: options.poolMax ?? 10, acquireTimeoutMillis: options.acquireTimeoutMs ?? 30_000 },
    driverOptions: {
      connection: {
        connectionTimeoutMillis: Math.min(options.acquireTimeoutMs ?? 10_000, 10_000),
        application_name: options.applicationName ?? 'relay-config-server',
      },
    },
    loggerFactory: (_: LoggerOptions) => new PinoOrmLogger(logger.child({ component: 'orm' })),
    // Counts statements for the query counter through the public hook, with no debug logging.
    onQuery: (sql: string) => {
      recordQuery();
      return sql;
    },
    // The migration list and the Migrator (with umzug and its tooling) load on first use: see migratorOf.
    migrations: {
      transactional: true,
      allOrNothing: true,
      tableName: MIGRATIONS_TABLE,
      snapshot: false,
    },
  };
}

/** Initialises the ORM without connecting: the pool connects on first use and recovers by itself. */
export async function initOrm(settings: Pick<Settings, 'databaseUrl'>, logger: Logger, options: OrmOptions = {}): Promise<Orm> {
  return MikroORM.init<PostgreSqlDriver>({ ...ormConfig(settings, logger, options), connect: false });
}

/**
 * The ORM's Migrator, registered on first use: only `npm start`'s migration step, `data migrate`
 * and tests need it, so the API and workers of a running installation never load umzug and its
 * command-line tooling (~220 modules).
 */
export async function migratorOf(orm: Orm): Promise<Migrator> {
  const registered = orm.config.getExtension<Migrator>('@mikro-orm/migrator');
  if (registered) return registered;
  const [{ Migrator: MigratorClass }, { migrationsList }] = await Promise.all([import('@mikro-orm/migrations'), import('./migrations/index.js')]);
  orm.config.set('migrations', { ...orm.config.get('migrations'), migrationsList });
  MigratorClass.register(orm);
  return orm.config.getExtension<Migrator>('@mikro-orm/migrator')!;
}

/** Whether every migration this build knows is recorded as applied (no Migrator loaded). */
async function upToDate(orm: Orm): Promise<boolean> {
  const connection = orm.em.getConnection();
  // In the schema the Migrator keeps it in (the config names none: public). A fresh database has
  // no table yet: asked first, so no failing statement is logged.
  const table = `"public"."${MIGRATIONS_TABLE}"`;
  const [{ present }] = await connection.execute<{ present: boolean }[]>(`select to_regclass('${table}') is not null as present`);
  if (!present) return false;
  const rows = await connection.execute<{ name: string }[]>(`select name from ${table}`);
  const applied = new Set(rows.map((row) => row.name));
  return MIGRATION_NAMES.every((name) => applied.has(name));
}

interface LockConnection {
  query(sql: string): Promise<unknown>;
}

/** A stable id for the migration advisory lock ("relaycfg" in ASCII, as a bigint). */
const MIGRATION_LOCK_ID = '8245931030573033319';

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so replicas that start together
 * migrate one after another (the later ones find nothing left to do). Returns the names applied.
 */
export async function applyMigrations(orm: Orm): Promise<string[]> {
  if (await upToDate(orm)) return [];
  // One pooled connection for the session-level lock (knex's client API is untyped).
  const client = orm.em.getConnection().getKnex().client as { acquireConnection(): Promise<LockConnection>; releaseConnection(c: LockConnection): Promise<void> };
  const lockConnection = await client.acquireConnection();
  try {
    await lockConnection.query(`select pg_advisory_lock(${MIGRATION_LOCK_ID})`);
    try {
      const applied = await (await migratorOf(orm)).up();
      return applied.map((m) => m.name);
    } finally {
      await lockConnection.query(`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`);
    }
  } finally {
    await client.releaseConnection(lockConnection);
  }
}
